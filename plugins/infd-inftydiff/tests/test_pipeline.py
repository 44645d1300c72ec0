"""∞-Diff end to end through the CLI on CPU: train, resume, sample at several sizes, inpaint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from cli_runs import read_level0, run_infd, write_config
from PIL import Image

from infd_core.checkpoints import load_checkpoint


def test_loss_decreases(trained):
    records = [json.loads(line) for line in (trained / "out" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(5, 151, 5))
    first = np.mean([r["loss"] for r in records[:4]])
    last = np.mean([r["loss"] for r in records[-4:]])
    assert first / last > 1.5, (first, last)  # a real learning signal, not just "runs"
    assert (trained / "out" / "loss.png").stat().st_size > 1000


def test_resume_equals_uninterrupted(tmp_path):
    straight = write_config(tmp_path / "a.yaml", tmp_path / "a", steps=12)
    run_infd("train", str(straight))
    half = write_config(tmp_path / "b.yaml", tmp_path / "b", steps=6)
    run_infd("train", str(half))
    rest = write_config(tmp_path / "c.yaml", tmp_path / "c", steps=12)
    run_infd("train", str(rest), "--resume", str(tmp_path / "b" / "checkpoint"))
    a = load_checkpoint(str(tmp_path / "a" / "checkpoint"))
    c = load_checkpoint(str(tmp_path / "c" / "checkpoint"))
    assert c.meta["step"] == 12
    for name in ("model", "ema"):
        for key, value in a.state(name).items():
            torch.testing.assert_close(c.state(name)[key], value, rtol=0, atol=0)


@pytest.mark.parametrize("size", [32, 128])
def test_sample_any_resolution_to_ome_zarr(trained, tmp_path, size):
    out = tmp_path / f"s{size}.ome.zarr"
    run_infd("sample", str(trained / "out" / "checkpoint"), "--size", f"{size}x{size}", "--out", str(out))
    image = read_level0(out)
    assert image.shape == (3, size, size) and image.dtype == np.uint8
    assert image.std() > 1  # not a constant image
    assert (tmp_path / f"s{size}.png").is_file()


def test_inpainting_keeps_known_pixels(trained, tmp_path):
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 255, (4, 4, 3)), np.ones((8, 8, 1))).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "image.png")
    mask = np.zeros((32, 32), np.uint8)
    mask[:, :16] = 255  # left half known
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "inpainted.ome.zarr"
    run_infd(
        "sample", str(trained / "out" / "checkpoint"), "--out", str(out),
        "--set", f"config.sampling.inpaint={{image: {tmp_path / 'image.png'}, mask: {tmp_path / 'mask.png'}, "
        "guidance_scale: 2.0}",
    )  # fmt: skip
    result = read_level0(out).astype(float)
    known = smooth.transpose(2, 0, 1).astype(float)
    error_known = np.abs(result[:, :, 2:14] - known[:, :, 2:14]).mean()
    error_free = np.abs(result[:, :, 18:30] - known[:, :, 18:30]).mean()
    # guidance pulls the known half to the observation; without it both halves are equally far off
    assert error_known < 0.6 * error_free, (error_known, error_free)


def test_samples_keep_their_statistics_across_resolutions(trained, tmp_path):
    """Per-image channel means and standard deviations at 2× and 4× the training resolution come from
    the same distribution as at 1×: a two-sample z-test at 3 standard errors (+0.03 for the estimate of
    the standard error from few images)."""
    stats = {}
    for size, count in ((32, 8), (64, 8), (128, 4)):
        out = tmp_path / f"r{size}"
        run_infd(
            "sample", str(trained / "out" / "checkpoint"), "--size", str(size), "--num", str(count),
            "--out", str(out), "--set", "config.sampling.batch_size=8",
        )  # fmt: skip
        pixels = np.stack([read_level0(out / f"sample-{i:03d}.ome.zarr") for i in range(count)]) / 255.0
        stats[size] = {"mean": pixels.mean(axis=(2, 3)), "std": pixels.std(axis=(2, 3))}  # [images, C]
    for size in (64, 128):
        for name in ("mean", "std"):
            a, b = stats[32][name], stats[size][name]
            error = np.sqrt(a.var(0, ddof=1) / len(a) + b.var(0, ddof=1) / len(b))
            assert np.all(np.abs(a.mean(0) - b.mean(0)) < 3 * error + 0.03), (
                size,
                name,
                a.mean(0),
                b.mean(0),
            )
