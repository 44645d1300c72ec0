"""``load_pipeline``: a checkpoint loaded once, sampled as tensors or into files, progress switchable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from infd_core import CheckpointMismatchError, UsageError, hookimpl, load_pipeline
from infd_core.checkpoints import save_checkpoint
from infd_core.cli.progress import TqdmProgress

WEIGHT, BIAS = (1.5, -0.5), 0.25


class JsonReader:
    """Reads the toy pipeline's predictions.json back, as an image plugin reads its stores."""

    @hookimpl
    def infd_read_output(self, path: str) -> torch.Tensor | None:
        return torch.tensor(json.loads(Path(path).read_text())) if path.endswith(".json") else None


@pytest.fixture
def checkpoint(tmp_path: Path) -> str:
    url = str(tmp_path / "ckpt")
    run = {"pipeline": "toy-regression", "output": str(tmp_path / "never"), "config": {"steps": 5}}
    state = {"weight": torch.tensor([WEIGHT]), "bias": torch.tensor([BIAS])}
    save_checkpoint(url, run, {"model": state}, {"step": 5})
    return url


def test_sample_returns_tensors_of_the_loaded_weights(manager, checkpoint, tmp_path):
    manager.register(JsonReader(), name="json-reader")
    pipe = load_pipeline(checkpoint, device="cpu", manager=manager, progress=False)
    assert pipe.name == "toy-regression" and str(pipe.device) == "cpu" and pipe.config.steps == 5
    (values,) = pipe.sample(size=5)
    grid = torch.linspace(-1, 1, 5)
    torch.testing.assert_close(values, grid * sum(WEIGHT) + BIAS)
    (again,) = pipe.sample(size=3)  # the same loaded pipeline, other settings
    assert again.shape == (3,)
    assert not (tmp_path / "never").exists()  # sampling to tensors writes no run output


def test_sample_with_out_keeps_the_files(manager, checkpoint, tmp_path):
    pipe = load_pipeline(checkpoint, device="cpu", manager=manager, progress=False)
    paths = pipe.sample(size=4, out=str(tmp_path / "kept"))
    assert paths == [str(tmp_path / "kept" / "predictions.json")]
    assert len(json.loads(Path(paths[0]).read_text())) == 4


def test_outputs_no_plugin_reads_are_a_usage_error(manager, checkpoint):
    pipe = load_pipeline(checkpoint, device="cpu", manager=manager, progress=False)
    with pytest.raises(UsageError, match=r"no output that can be returned as a tensor \(predictions.json\)"):
        pipe.sample(size=4)


def test_progress_is_on_by_default_and_switchable(manager, checkpoint):
    assert isinstance(load_pipeline(checkpoint, device="cpu", manager=manager).runner.progress, TqdmProgress)
    assert load_pipeline(checkpoint, device="cpu", manager=manager, progress=False).runner.progress is None


def test_a_checkpoint_of_other_shapes_is_refused_when_loaded(manager, checkpoint, tmp_path):
    wide = tmp_path / "wide"
    save_checkpoint(str(wide), {"pipeline": "toy-regression"}, {"model": {"weight": torch.zeros(1, 3)}})
    with pytest.raises(CheckpointMismatchError, match="size mismatch for weight"):
        load_pipeline(str(wide), device="cpu", manager=manager)
