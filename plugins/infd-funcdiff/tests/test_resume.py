"""Training N steps in one go equals N/2 steps then ``infd train --resume`` to N (weights, EMA, Adam)."""

from __future__ import annotations

import yaml

from infd_core.checkpoints import load_checkpoint
from infd_core.cli.main import run_cli

CONFIG = {
    "pipeline": "funcdiff",
    "seed": 7,
    "device": "cpu",
    "config": {
        "data": {"kind": "gp", "gp": {"num_curves": 40, "num_points": 16}},
        "model": {"kind": "fno", "fno": {"width": 8, "modes": 4, "layers": 2, "projection": 16}},
        # the StepLR period falls inside the second half: the schedule must resume too
        "train": {"steps": 20, "batch_size": 8, "lr": 1e-3, "lr_step": 15, "lr_gamma": 0.5, "ema_decay": 0.9},
    },
}


def _train(tmp_path, name, steps, resume=None):
    config = dict(CONFIG, output=str(tmp_path / name))
    config["config"] = dict(CONFIG["config"], train=dict(CONFIG["config"]["train"], steps=steps))
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    assert run_cli(["train", str(path), *(["--resume", resume] if resume else [])]) == 0
    return load_checkpoint(str(tmp_path / name / "checkpoint"))


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    whole = _train(tmp_path, "whole", 20)
    half = _train(tmp_path, "half", 10)
    resumed = _train(tmp_path, "resumed", 20, resume=str(tmp_path / "half" / "checkpoint"))
    assert half.meta["step"] == 10 and whole.meta["step"] == resumed.meta["step"] == 20
    for name in ("model", "ema", "optimizer"):
        a, b = whole.state(name), resumed.state(name)
        assert a.keys() == b.keys() and a
        for key in a:
            # exact: same seeded initial weights, per-step generators, restored Adam state and LR step
            assert (a[key] == b[key]).all(), (name, key, (a[key] - b[key]).abs().max())
    assert whole.meta["optimizer"] == resumed.meta["optimizer"]
