"""The CLI end to end with the toy pipeline, and its one-line errors with exit statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from toy_pipeline import TRUE_BIAS, TRUE_WEIGHT, ToyConfig, ToyPipeline

from infd_core import ComponentSpec, hookimpl
from infd_core.checkpoints import load_checkpoint, save_checkpoint
from infd_core.cli.main import run_cli
from infd_core.demos import checkpoint_demo


@pytest.fixture
def infd(manager, capsys):
    def call(*argv: str) -> tuple[int, str, str]:
        status = run_cli(list(argv), manager)
        out, err = capsys.readouterr()
        return status, out, err

    return call


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(f"pipeline: toy-regression\noutput: {tmp_path / 'out'}\nconfig:\n  steps: 60\n")
    return path


def test_train_then_sample_from_checkpoint(infd, config, tmp_path):
    status, out, err = infd("train", str(config))
    assert status == 0, err
    assert f"checkpoint: {tmp_path / 'out' / 'checkpoint'}" in out
    ckpt = load_checkpoint(str(tmp_path / "out" / "checkpoint"))
    assert ckpt.config["pipeline"] == "toy-regression" and ckpt.meta["step"] == 60
    weight = ckpt.state("model")["weight"]
    assert torch.allclose(weight, torch.tensor([TRUE_WEIGHT]), atol=0.3)  # SGD converges to the truth
    status, _, err = infd(
        "sample", str(tmp_path / "out" / "checkpoint"), "--size", "5", "--out", str(tmp_path / "s")
    )
    assert status == 0, err
    values = json.loads((tmp_path / "s" / "predictions.json").read_text())
    grid = torch.linspace(-1, 1, 5)
    expected = grid * sum(TRUE_WEIGHT) + TRUE_BIAS
    assert torch.allclose(torch.tensor(values), expected, atol=0.3)


def test_resume_equals_uninterrupted_training(infd, config, tmp_path):
    assert infd("train", str(config), "--set", "config.steps=30", "--set", f"output={tmp_path / 'a'}")[0] == 0
    assert (
        infd(
            "train",
            str(config),
            "--resume",
            str(tmp_path / "a" / "checkpoint"),
            "--set",
            f"output={tmp_path / 'b'}",
        )[0]
        == 0
    )
    assert infd("train", str(config), "--set", f"output={tmp_path / 'c'}")[0] == 0
    resumed = load_checkpoint(str(tmp_path / "b" / "checkpoint")).state("model")
    straight = load_checkpoint(str(tmp_path / "c" / "checkpoint")).state("model")
    for key in straight:
        assert torch.equal(resumed[key], straight[key])


def test_run_and_demo(infd, config, tmp_path):
    status, out, _ = infd("run", str(config))
    assert status == 0 and "wrote:" in out and "metrics: loss=" in out
    status, out, err = infd("demo", "--out", str(tmp_path / "demo"))
    assert status == 0, err
    assert (tmp_path / "demo" / "samples" / "predictions.json").is_file()


def test_checkpoint_demo_samples_the_checkpoint_without_training(infd, config, tmp_path):
    assert infd("train", str(config), "--set", "config.steps=40")[0] == 0
    checkpoint = str(tmp_path / "out" / "checkpoint")
    demo = checkpoint_demo(
        checkpoint, output=str(tmp_path / "demo"), sample={"size": [3]}, settings={"config.lr": 0.5}
    )
    assert demo["train"] == {"enabled": False} and demo["sample"] == {"size": [3], "checkpoint": checkpoint}
    assert demo["config"] == {"steps": 40, "lr": 0.5, "batch": 32}
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(demo))
    status, out, err = infd("run", str(path))
    assert status == 0, err
    assert "metrics: loss=" not in out  # nothing was trained
    weight, bias = (load_checkpoint(checkpoint).state("model")[k] for k in ("weight", "bias"))
    grid = torch.linspace(-1, 1, 3)
    expected = grid * weight.sum() + bias
    values = json.loads((tmp_path / "demo" / "samples" / "predictions.json").read_text())
    assert torch.allclose(torch.tensor(values), expected, atol=1e-6)


def test_unnamed_demo_with_several_offering_is_a_usage_error(manager, capsys):
    class OtherDemo:
        @hookimpl
        def infd_pipelines(self) -> list[ComponentSpec]:
            return [
                ComponentSpec(
                    name="other-toy",
                    factory=ToyPipeline,
                    config=ToyConfig,
                    description="a second pipeline with a demo",
                    demo="toy_pipeline:demo_config",
                )
            ]

    manager.register(OtherDemo(), name="other", distribution="infd-other")
    assert run_cli(["demo"], manager) == 2
    assert "several installed pipelines offer a demo (other-toy, toy-regression)" in capsys.readouterr().err


def test_config_schema_and_show(infd, config):
    status, out, _ = infd("config", "schema", "toy-regression")
    assert status == 0 and "ToyConfig" in json.loads(out)["$defs"]
    status, out, _ = infd("config", "show", str(config), "--set", "seed=9")
    shown = json.loads(out)
    assert status == 0 and shown["seed"] == 9 and shown["config"]["lr"] == 0.1


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_unknown_component_name(infd, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("pipeline: nonesuch\n")
    status, _, err = infd("run", str(path))
    assert status == 2 and "unknown pipeline 'nonesuch'; available: toy-regression" in _one_line_error(err)
    status, _, err = infd("config", "schema", "nonesuch")
    assert status == 2 and "available: toy-regression" in _one_line_error(err)


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("bad.yaml", "pipeline: toy-regression\nconfig: [\n", "malformed YAML"),
        ("bad.toml", "pipeline = toy\n", "malformed TOML"),
    ],
)
def test_malformed_config_files(infd, tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    status, _, err = infd("train", str(path))
    assert status == 2 and match in _one_line_error(err)


def test_wrong_type_in_config(infd, config):
    status, _, err = infd("train", str(config), "--set", "config.lr=fast")
    assert status == 2 and "config.lr: Input should be a valid number" in _one_line_error(err)


def test_missing_checkpoint_folder(infd, tmp_path):
    status, _, err = infd("sample", str(tmp_path / "missing-ckpt"), "--set", "x=1")
    assert status == 2 and "not found" in _one_line_error(err)
    status, _, err = infd("train", str(tmp_path / "missing.yaml"))
    assert status == 2 and "not found" in _one_line_error(err)


def test_checkpoint_holding_a_pickle(infd, config, tmp_path):
    ckpt = tmp_path / "ckpt"
    save_checkpoint(str(ckpt), {"pipeline": "toy-regression"}, {"model": {"w": torch.zeros(1)}})
    torch.save({"weight": torch.zeros(1, 2)}, ckpt / "model.safetensors")
    status, _, err = infd("sample", str(ckpt))
    assert status == 1 and "never unpickles" in _one_line_error(err)


def test_checkpoint_from_another_pipeline(infd, config, tmp_path):
    ckpt = tmp_path / "ckpt"
    save_checkpoint(str(ckpt), {"pipeline": "toy-regression"}, {"model": {"w": torch.zeros(1)}})
    status, _, err = infd("train", str(config), "--resume", str(ckpt))
    assert status == 2 and "does not fit this pipeline's model" in _one_line_error(err)
    bad = tmp_path / "other"
    data = {"pipeline": "other-pipeline"}
    save_checkpoint(str(bad), data, {"model": {"w": torch.zeros(1)}})
    status, _, err = infd("train", str(config), "--resume", str(bad))
    assert status == 2 and "written by pipeline 'other-pipeline'" in _one_line_error(err)
    assert not (tmp_path / "out").exists()  # checked before the output folder is made


def test_checkpoint_of_other_shapes_writes_nothing(infd, config, tmp_path):
    ckpt = tmp_path / "ckpt"
    wide = {"weight": torch.zeros(1, 3), "bias": torch.zeros(1)}  # the toy model's weight is (1, 2)
    save_checkpoint(str(ckpt), {"pipeline": "toy-regression"}, {"model": wide})
    samples = tmp_path / "samples"
    status, _, err = infd("sample", str(config), "--set", f"sample.checkpoint={ckpt}", "--out", str(samples))
    assert status == 2 and "size mismatch for weight" in _one_line_error(err)
    status, _, err = infd(
        "run", str(config), "--set", "train.enabled=false", "--set", f"sample.checkpoint={ckpt}"
    )
    assert status == 2 and "does not fit" in _one_line_error(err)
    assert not (tmp_path / "out").exists() and not samples.exists()


def test_unwritable_output_path(infd, config, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    status, _, err = infd("train", str(config), "--set", f"output={blocker / 'out'}")
    assert status == 1 and "not writable" in _one_line_error(err)
    assert blocker.read_text() == "not a folder"


def test_usage_errors_exit_2(infd, config):
    assert infd("sample", str(config), "--size", "0x5")[0] == 2
    assert infd("sample", str(config), "--num", "0")[0] == 2
    assert infd("nonsense-command")[0] == 2
    status, _, err = infd("demo", "nonesuch")
    assert status == 2 and "available: toy-regression" in err
