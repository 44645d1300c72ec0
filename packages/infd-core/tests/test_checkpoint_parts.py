"""``infd checkpoint info|prune``: sizes read from headers, and a pruned copy that samples identically."""

from __future__ import annotations

import json

import pytest
import torch

from infd_core.checkpoint_parts import checkpoint_summary
from infd_core.checkpoints import load_checkpoint, read_checkpoint_header
from infd_core.cli.main import run_cli


@pytest.fixture
def trained(manager, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(f"pipeline: toy-regression\noutput: {tmp_path / 'out'}\nconfig:\n  steps: 30\n")
    assert run_cli(["train", str(config)], manager) == 0
    return config, str(tmp_path / "out" / "checkpoint")


def test_info_reads_sizes_from_the_headers(manager, trained, capsys):
    _, checkpoint = trained
    capsys.readouterr()
    assert run_cli(["checkpoint", "info", checkpoint, "--json"], manager) == 0
    summary = json.loads(capsys.readouterr().out)
    loaded = load_checkpoint(checkpoint)
    assert summary["pipeline"] == "toy-regression" and summary["steps"] == {"step": 30}
    assert sorted(summary["parts"]) == sorted(loaded.tensors) == ["model", "optimizer"]
    for name, state in loaded.tensors.items():
        part = summary["parts"][name]
        assert part["tensors"] == len(state)
        assert part["values"] == sum(t.numel() for t in state.values())
        assert part["bytes"] == sum(t.numel() * t.element_size() for t in state.values())
    assert run_cli(["checkpoint", "info", checkpoint], manager) == 0
    assert "optimizer" in capsys.readouterr().out


def test_a_pruned_copy_samples_identically(manager, trained, tmp_path):
    config, checkpoint = trained
    pruned = str(tmp_path / "pruned")
    assert run_cli(["checkpoint", "prune", checkpoint, pruned, "--drop", "optimizer"], manager) == 0
    copy, source = load_checkpoint(pruned), load_checkpoint(checkpoint)
    assert sorted(copy.tensors) == ["model"] and "optimizer" not in copy.meta
    assert copy.meta["pruned_parts"] == ["optimizer"] and copy.meta["step"] == source.meta["step"]
    assert copy.config == source.config
    for key, value in source.state("model").items():
        assert torch.equal(copy.state("model")[key], value)
    assert read_checkpoint_header(pruned)["versions"] == read_checkpoint_header(checkpoint)["versions"]
    assert checkpoint_summary(pruned)["pruned_parts"] == ["optimizer"]

    outputs = []
    for name, url in (("a", checkpoint), ("b", pruned)):
        assert run_cli(["sample", url, "--size", "7", "--out", str(tmp_path / name)], manager) == 0
        outputs.append(json.loads((tmp_path / name / "predictions.json").read_text()))
    assert outputs[0] == outputs[1]
    # resuming from the copy trains on, with a fresh optimizer
    more = ["--set", "config.steps=40", "--set", f"output={tmp_path / 'resumed'}"]
    assert run_cli(["train", str(config), "--resume", pruned, *more], manager) == 0
    assert load_checkpoint(str(tmp_path / "resumed" / "checkpoint")).meta["step"] == 40


def test_prune_refuses_bad_requests_and_writes_nothing(manager, trained, tmp_path, capsys):
    _, checkpoint = trained
    target = tmp_path / "copy"
    for argv, message in (
        ([checkpoint, checkpoint, "--drop", "optimizer"], "must not replace its source"),
        ([checkpoint, str(target), "--drop", "nope"], "no part nope to drop (parts: model, optimizer)"),
        ([checkpoint, str(target), "--drop", "model", "--drop", "optimizer"], "would leave no weights"),
    ):
        assert run_cli(["checkpoint", "prune", *argv], manager) == 2
        assert message in capsys.readouterr().err
        assert not target.exists()
    assert sorted(load_checkpoint(checkpoint).tensors) == ["model", "optimizer"]
    target.mkdir()
    assert run_cli(["checkpoint", "prune", checkpoint, str(target), "--drop", "optimizer"], manager) == 2
    assert "exists" in capsys.readouterr().err
    argv = ["checkpoint", "prune", checkpoint, str(target), "--drop", "optimizer", "--overwrite"]
    assert run_cli(argv, manager) == 0
    assert sorted(load_checkpoint(str(target)).tensors) == ["model"]
