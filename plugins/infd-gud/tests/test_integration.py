"""End to end: train a few steps on 16² photo crops (PCA-whitened, FFT), sample, NLL with two ODE solvers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from gud_helpers import build_pipeline, tiny_config

from infd_core.checkpoints import load_checkpoint
from infd_core.cli.main import run_cli

NLL_TOLERANCE = 0.02  # bits/dim between the adaptive RK45 and fixed-step Heun solutions (same probes)


def _check_nll(nll: dict) -> None:
    solvers = nll["solvers"]
    assert set(solvers) == {"rk45", "heun"}
    values = [s["bits_per_dim"] for s in solvers.values()]
    assert all(np.isfinite(values)) and all(0 < v < 30 for v in values)
    assert nll["max_solver_difference"] == pytest.approx(max(values) - min(values))
    assert nll["max_solver_difference"] < NLL_TOLERANCE, nll


def test_cli_run_pca_whitened(tmp_path) -> None:
    out = tmp_path / "run"
    config = {
        "pipeline": "gud",
        "output": str(out),
        "seed": 3,
        "sample": {"num_samples": 2},
        "config": tiny_config(
            basis={"name": "pca"},
            prior={"kind": "data"},
            schedule={"name": "linear-soft", "softness_range": [0.5, 4.0]},
        ),
    }
    path = tmp_path / "gud.yaml"
    path.write_text(yaml.safe_dump(config))
    assert run_cli(["run", str(path)]) == 0
    samples = out / "samples"
    assert (out / "schedule.png").stat().st_size > 0
    assert sorted(p.name for p in samples.glob("*.png")) == ["sample_0000.png", "sample_0001.png"]
    assert (samples / "samples.zarr" / "zarr.json").exists()
    _check_nll(json.loads((samples / "nll.json").read_text()))
    checkpoint = load_checkpoint(str(out / "checkpoint"))
    space = checkpoint.state("space")
    assert space["pca_components"].shape == (256, 256) and space["scale"].shape == (1, 256)
    assert {"model", "ema", "space"} <= set(checkpoint.tensors)
    assert checkpoint.meta["schedule"]["name"] == "linear-soft"


def test_fft_train_sample_reload_and_nll(tmp_path) -> None:
    pipeline = build_pipeline(str(tmp_path / "run"), seed=1, basis={"name": "fft"}, prior={"kind": "data"},
                              schedule={"name": "linear-soft", "softness": 2.0, "ordering_r": 0.5},
                              sampling={"method": "sde", "steps": 4},
                              likelihood={"rtol": 5e-3, "atol": 5e-3, "t_min": 1e-2})  # fmt: skip
    metrics = pipeline.train()
    assert metrics["step"] == 3.0 and np.isfinite(metrics["loss"])
    first = pipeline.generate(2)
    assert first.shape == (2, 3, 16, 16) and bool(torch.isfinite(first).all())
    tensors, meta = pipeline.state()
    url = pipeline.context.save_checkpoint(tensors, meta, step=meta["step"])
    # a fresh pipeline restores basis statistics, weights and EMA from the checkpoint alone
    fresh = build_pipeline(str(tmp_path / "run"), seed=1, basis={"name": "fft"}, prior={"kind": "data"},
                           schedule={"name": "linear-soft", "softness": 2.0, "ordering_r": 0.5},
                           sampling={"method": "sde", "steps": 4},
                              likelihood={"rtol": 5e-3, "atol": 5e-3, "t_min": 1e-2})  # fmt: skip
    fresh.load_state(load_checkpoint(url))
    assert torch.allclose(fresh.generate(2), first, atol=1e-5)
    _check_nll(fresh.likelihood())


def test_resume_continues_exactly(tmp_path) -> None:
    """2 steps, checkpoint, 2 more steps in a fresh pipeline == 4 steps at once (weights, EMA, Adam)."""
    straight = build_pipeline(str(tmp_path / "straight"), training={"steps": 4})
    straight.train()
    half = build_pipeline(str(tmp_path / "half"), training={"steps": 2})
    half.train()
    tensors, meta = half.state()
    url = half.context.save_checkpoint(tensors, meta, step=meta["step"])
    resumed = build_pipeline(str(tmp_path / "half"), training={"steps": 4})
    resumed.load_state(load_checkpoint(url))
    assert resumed.step == 2
    resumed.train()
    expected, _ = straight.state()
    got, meta = resumed.state()
    assert meta["step"] == 4
    for part in ("model", "ema", "optimizer"):
        assert expected[part].keys() == got[part].keys()
        for key, value in expected[part].items():
            torch.testing.assert_close(got[part][key], value, rtol=0, atol=0, msg=f"{part} {key}")
