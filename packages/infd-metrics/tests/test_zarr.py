"""OME-Zarr sources: crops read lazily from the right pyramid level, bounded memory on a 16384² store."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from infd_io import TiledWriter
from infd_metrics import CropSampler, save_random_extractor
from infd_metrics.zarr_source import ZarrSource


def pattern(rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    """A deterministic uint8 (3, h, w) block of the infinite test image at rows × cols."""
    y = (np.arange(*rows) % 256).astype(np.uint8)[:, None]
    x = (np.arange(*cols) % 256).astype(np.uint8)[None, :]
    block = np.empty((3, len(y), x.shape[1]), np.uint8)
    np.add(y * np.uint8(7), x * np.uint8(3), out=block[0])
    np.bitwise_xor(y, x, out=block[1])
    np.add(y // np.uint8(64) * np.uint8(16), x // np.uint8(64) * np.uint8(16), out=block[2])
    return block


def write_store(url: str, size: int, tile: int, levels: int) -> None:
    """A (3, size, size) uint8 store written tile by tile: the image never exists whole in memory."""
    writer = TiledWriter(url, (3, size, size), "uint8", chunks=min(256, tile), tile_size=tile, levels=levels)
    for index in writer.tiles():
        writer.write_tile(index, pattern(*writer.tile_bounds(index)))
    assert writer.finalize()


def test_native_crops_are_the_stored_pixels(tmp_path: Path) -> None:
    url = str(tmp_path / "small.zarr")
    write_store(url, 256, 128, levels=2)
    sampler = CropSampler(patch_size=24, crops_per_image=5, seed=4)
    crops = ZarrSource([url]).crops(0, sampler)
    assert crops.shape == (5, 3, 24, 24)
    for crop, (top, left) in zip(crops, sampler.positions(256, 256, 0), strict=True):
        expected = pattern((top, top + 24), (left, left + 24)).astype(np.float32) / 255.0
        np.testing.assert_array_equal(crop.numpy(), expected)


def test_lower_resolutions_read_the_matching_pyramid_level(tmp_path: Path) -> None:
    from infd_io import read_region

    url = str(tmp_path / "pyramid.zarr")
    write_store(url, 256, 128, levels=2)
    sampler = CropSampler(patch_size=32, resolution=128, crops_per_image=3, seed=0)
    crops = ZarrSource([url]).crops(0, sampler)
    level1 = read_region(url, 1).astype(np.float32) / 255.0  # 128², infd-io's 2× downsample
    for crop, (top, left) in zip(crops, sampler.positions(256, 256, 0), strict=True):
        np.testing.assert_allclose(crop.numpy(), level1[:, top : top + 32, left : left + 32], atol=1e-6)
    # a resolution between levels reads a larger region of the finer level and resizes it
    between = CropSampler(patch_size=32, resolution=192, crops_per_image=2, seed=0)
    assert ZarrSource([url]).crops(0, between).shape == (2, 3, 32, 32)


@pytest.mark.slow
def test_patch_fid_on_a_16384_store_has_bounded_memory(tmp_path: Path) -> None:
    size = 16384
    url = str(tmp_path / "gigapixel.zarr")
    write_store(url, size, 2048, levels=1)
    extractor = tmp_path / "random.safetensors"
    save_random_extractor(str(extractor), seed=0, feature_dim=8)
    run = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "pfid_worker.py"), url, str(extractor)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    full_image_mb = 3 * size * size / 2**20  # 768 MiB as uint8, 3 GiB as float32
    growth, traced = report["rss_growth_mb"], report["traced_peak_mb"]
    print(f"pFID on {size}²: RSS growth {growth:.1f} MB, traced peak {traced:.1f} MB")
    assert all(math.isfinite(v) and v > 0 for v in report["values"])
    assert report["traced_peak_mb"] < full_image_mb / 20
    assert report["rss_growth_mb"] < full_image_mb / 8
    assert report["peak_rss_growth_mb"] < full_image_mb / 8
    assert report["progress_tasks"] == ["fake", "real"]
    assert torch.isfinite(torch.tensor(report["values"])).all()
