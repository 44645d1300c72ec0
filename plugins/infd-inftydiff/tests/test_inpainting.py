"""Guided sampling: inpainting from t_s (the image noised to t_s, then guidance) with a latent of the
known pixels only, and super-resolution whose output, downsampled, is consistent with its input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runs import read_level0, run_infd, write_config
from PIL import Image

from infd_core import draws
from infd_inftydiff.denoiser import InftyDiffDenoiser
from infd_inftydiff.guidance import fill_unknown, known_pixel_latent
from infd_inftydiff.model_config import DenoiserConfig
from infd_inftydiff.sampling import StartImage, mollified_ddim
from infd_measures.discrete import DiscreteSchedule
from infd_measures.mollifier import GaussianMollifier


def test_sampling_starts_from_the_image_noised_to_t_s():
    """The first denoiser call sees x_{t_s} = √ᾱ T x + √(1 − ᾱ) T ξ at t_s (ξ: the sample's white noise,
    drawn as for pure-noise sampling), and about t_s/T of the steps follow, down to 0."""
    schedule, mollifier = DiscreteSchedule.cosine(1000), GaussianMollifier(1.0, reference_resolution=16)
    image = torch.rand(1, 3, 16, 16) * 2 - 1
    calls = []

    def denoiser(x, t):
        calls.append((x.detach().clone(), float(t.reshape(-1)[0])))
        return torch.zeros_like(x)

    mollified_ddim(denoiser, schedule, mollifier, (3, 16, 16), 16, [torch.Generator().manual_seed(5)],
                   steps=50, start=StartImage(image, 300))  # fmt: skip
    white = draws.randn((3, 16, 16), torch.Generator().manual_seed(5))
    alpha, sigma = schedule.alpha(300), schedule.sigma(300)
    expected = alpha * mollifier.apply(image.double()) + sigma * mollifier.apply(white[None].double())
    assert calls[0][1] == 300 and len(calls) == 15  # 50 steps × 300/1000
    torch.testing.assert_close(calls[0][0].double(), expected, atol=1e-5, rtol=1e-5)
    assert StartImage(image, 300).grid(50, 1000) == [300 - 20 * i for i in range(16)]


def test_the_latent_reads_only_the_known_pixels():
    torch.manual_seed(0)
    model = InftyDiffDenoiser(DenoiserConfig(train_resolution=16, latent_dim=6)).eval()
    image = torch.rand(1, 3, 20, 20) * 2 - 1
    mask = torch.zeros(1, 1, 20, 20, dtype=torch.bool)
    mask[..., :, :9] = True
    other = image.clone()
    other[..., :, 9:] = -image[..., :, 9:]  # the hole's content changes ...
    assert torch.equal(known_pixel_latent(model, image, mask), known_pixel_latent(model, other, mask))
    changed = image.clone()
    changed[..., :, :9] += 0.5  # ... the known pixels' does matter
    assert not torch.allclose(
        known_pixel_latent(model, image, mask), known_pixel_latent(model, changed, mask)
    )
    filled = fill_unknown(image, mask)
    assert torch.equal(filled[..., :9], image[..., :9])
    torch.testing.assert_close(filled[0, :, 5, 15], image[0, :, :, :9].mean((1, 2)))


@pytest.fixture(scope="module")
def autoencoder(tmp_path_factory) -> Path:
    """A tiny ∞-Diff autoencoder trained for 30 steps: its checkpoint."""
    folder = tmp_path_factory.mktemp("autoencoder")
    config = write_config(
        folder / "run.yaml", folder / "out", steps=30,
        model={"latent_dim": 8}, latent={"steps": 2, "hidden": 32, "depth": 2, "stats_batches": 1},
    )  # fmt: skip
    run_infd("train", str(config))
    return folder / "out" / "checkpoint"


def test_inpainting_from_t_s_ignores_the_hole_and_keeps_the_known_pixels(autoencoder, tmp_path):
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 255, (4, 4, 3)), np.ones((8, 8, 1))).astype(np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[:, :16] = 255  # left half known
    Image.fromarray(mask).save(tmp_path / "mask.png")
    results = []
    for k, hole in enumerate((0, 255)):
        image = smooth.copy()
        image[:, 16:] = hole  # what lies under the hole must not matter
        Image.fromarray(image).save(tmp_path / f"image{k}.png")
        out = tmp_path / f"inpainted{k}.ome.zarr"
        inpaint = f"{{image: {tmp_path / f'image{k}.png'}, mask: {tmp_path / 'mask.png'}, start: 0.4}}"
        run_infd("sample", str(autoencoder), "--out", str(out),
                 "--set", f"config.sampling.inpaint={inpaint}")  # fmt: skip
        results.append(read_level0(out).astype(float))
    np.testing.assert_array_equal(results[0], results[1])
    known = smooth.transpose(2, 0, 1).astype(float)
    error_known = np.abs(results[0][:, :, 2:14] - known[:, :, 2:14]).mean()
    assert error_known < 40, error_known  # of 255: the start image and the guidance keep the known half


def _blocks(seed: int, side: int) -> np.ndarray:
    """A ``side``² image of 4 × 4 random colour blocks."""
    rng = np.random.default_rng(seed)
    return np.kron(rng.integers(0, 255, (4, 4, 3)), np.ones((side // 4, side // 4, 1))).astype(np.uint8)


def _super_resolve(checkpoint: Path, image: Path, out: Path) -> np.ndarray:
    """``image`` at 2× by super-resolution with guidance, area-downsampled back to its size ([0, 255])."""
    superres = f"{{image: {image}, guidance_scale: 8.0, start: 0.6}}"
    run_infd("sample", str(checkpoint), "--size", "32", "--out", str(out),
             "--set", f"config.sampling.superres={superres}")  # fmt: skip
    big = read_level0(out).astype(float)
    return big.reshape(3, 16, 2, 16, 2).mean((2, 4))


def test_super_resolution_is_consistent_with_its_input(autoencoder, tmp_path):
    """The 32² output, area-downsampled to 16², stays within 30/255 (mean absolute error) of the 16²
    input (measured: 20); a sample from another image's latent (and guidance) is at least three times
    as far from it (measured: 93)."""
    low, other = _blocks(1, 16), _blocks(2, 16)
    Image.fromarray(low).save(tmp_path / "low.png")
    Image.fromarray(other).save(tmp_path / "other.png")
    target = low.transpose(2, 0, 1).astype(float)
    own = np.abs(_super_resolve(autoencoder, tmp_path / "low.png", tmp_path / "own.ome.zarr") - target).mean()
    away = np.abs(
        _super_resolve(autoencoder, tmp_path / "other.png", tmp_path / "o.ome.zarr") - target
    ).mean()
    assert own < 30, (own, away)
    assert away > 3 * own, (own, away)
