"""``infd demo infd``: the shipped checkpoint samples four fields and renders them at 8× their grid.

Checked against the renderer's defining property rather than stored numbers: rendered at 512² and
box-averaged 8× down, each sample must match the same sample rendered directly at 64² (CLIF is trained
for scale consistency), far more closely than two different samples match each other.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from helpers import read_level0, run_infd

from infd_core.checkpoints import load_checkpoint
from infd_infd.demo import DEMO_SAMPLES, DEMO_SIZE, checkpoint_path

SCALE_TOLERANCE = 0.03  # mean |down(512²) − 64²| in [0, 1] units; measured 0.003–0.013


def test_shipped_checkpoint_is_safetensors_only():
    folder = Path(checkpoint_path())
    names = sorted(p.name for p in folder.iterdir())
    assert "config.json" in names and all(n.endswith(".safetensors") for n in names if n != "config.json")
    assert sum(p.stat().st_size for p in folder.iterdir()) < 20 * 2**20
    ckpt = load_checkpoint(str(folder))
    assert ckpt.config["pipeline"] == "infd"
    assert ckpt.meta["autoencoder_step"] == 3000 and ckpt.meta["latent_step"] == 4000


def test_demo_renders_scale_consistent_samples(tmp_path):
    run_infd("demo", "infd", "--out", str(tmp_path / "demo"))
    folder = tmp_path / "demo" / "samples"
    large = []
    for i in range(DEMO_SAMPLES):
        image = read_level0(folder / f"sample-{i:03d}.ome.zarr")
        assert image.shape == (3, DEMO_SIZE, DEMO_SIZE) and image.dtype == np.uint8
        assert (folder / f"sample-{i:03d}.png").stat().st_size > 1000
        large.append(image.astype(np.float64) / 255)

    run_infd(
        "sample",
        checkpoint_path(),
        "--size",
        "64x64",
        "--num",
        str(DEMO_SAMPLES),
        "--out",
        str(tmp_path / "s"),
    )
    small = [
        read_level0(tmp_path / "s" / f"sample-{i:03d}.ome.zarr").astype(np.float64) / 255 for i in range(4)
    ]
    factor = DEMO_SIZE // 64
    for i, (big, low) in enumerate(zip(large, small, strict=True)):
        down = big.reshape(3, 64, factor, 64, factor).mean(axis=(2, 4))
        error = np.abs(down - low).mean()
        nearest_other = min(np.abs(other - low).mean() for j, other in enumerate(small) if j != i)
        assert error < SCALE_TOLERANCE, (i, error)
        assert nearest_other > 5 * error, (i, error, nearest_other)
