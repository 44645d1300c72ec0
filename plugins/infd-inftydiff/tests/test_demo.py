"""``infd demo``: the shipped checkpoint loads without pickle and samples at 4× to OME-Zarr + PNG."""

from __future__ import annotations

import time
from pathlib import Path

from cli_runs import read_level0, run_infd

from infd_core.checkpoints import load_checkpoint
from infd_inftydiff.demo import DEMO_SIZE, checkpoint_path


def test_shipped_checkpoint_is_safetensors_only():
    folder = Path(checkpoint_path())
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "ema.safetensors", "model.safetensors"]
    assert sum(p.stat().st_size for p in folder.iterdir()) < 20 * 2**20
    ckpt = load_checkpoint(str(folder))
    assert ckpt.config["pipeline"] == "inftydiff" and ckpt.meta["step"] == 3000
    assert ckpt.config["config"]["data"]["resolution"] * 4 == DEMO_SIZE


def test_demo_writes_the_promised_files(tmp_path):
    start = time.perf_counter()
    run_infd("demo", "inftydiff", "--out", str(tmp_path / "demo"))
    elapsed = time.perf_counter() - start
    image = read_level0(tmp_path / "demo" / "samples" / "sample-000.ome.zarr")
    assert image.shape == (3, DEMO_SIZE, DEMO_SIZE)
    assert (tmp_path / "demo" / "samples" / "sample-000.png").stat().st_size > 1000
    assert elapsed < 300, f"the demo took {elapsed:.0f} s"
