"""The installed ``infd`` command: one-line errors and exit statuses for bad input."""

from __future__ import annotations

import subprocess
from importlib import resources

import pytest
import torch
from cli_helpers import BIN, infd

from infd_core.checkpoints import save_checkpoint


def _last_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.yaml", "pipeline: x\n  bad: [\n", "malformed YAML"),
        ("bad.toml", "pipeline = \n", "malformed TOML"),
        ("unknown.yaml", "pipeline: nonesuch\n", "unknown pipeline 'nonesuch'"),
    ],
)
def test_bad_configs_exit_2(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    result = infd("train", str(path))
    assert result.returncode == 2
    assert message in _last_line(result.stderr) and "Traceback" not in result.stderr


def test_missing_checkpoint_exits_2(tmp_path):
    result = infd("sample", str(tmp_path / "nothing-here"))
    assert result.returncode == 2 and "checkpoint folder not found" in _last_line(result.stderr)


def test_pickle_checkpoint_is_refused(tmp_path):
    folder = tmp_path / "ckpt"
    save_checkpoint(str(folder), {"pipeline": "x"}, {"model": {"w": torch.zeros(1)}})
    torch.save({"w": torch.zeros(1)}, folder / "model.safetensors")
    result = infd("sample", str(folder))
    assert result.returncode != 0 and "never unpickles" in _last_line(result.stderr)
    assert "Traceback" not in result.stderr


def test_usage_error_exit_2():
    assert infd("sample").returncode == 2
    assert infd("plugins", "--no-such-flag").returncode == 2


def test_demo_checkpoint_with_other_model_shapes_writes_nothing(tmp_path):
    """A shipped checkpoint sampled with a config whose network differs: exit 2 before any output (the
    checkpoint's own output folder is relative, so it would appear in the working directory)."""
    checkpoint = resources.files("infd_inftydiff") / "demo" / "checkpoint"
    args = [str(checkpoint), "--set", "config.model.sparse_channels=24", "--size", "32"]
    result = subprocess.run(
        [str(BIN / "infd"), "sample", *args, "--out", "x.ome.zarr"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    line = _last_line(result.stderr)
    assert "does not fit this pipeline's model" in line and "size mismatch" in line
    assert "Traceback" not in result.stderr and list(tmp_path.iterdir()) == []
