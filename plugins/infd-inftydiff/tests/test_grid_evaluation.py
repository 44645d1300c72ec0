"""Full-grid evaluation of ∞-Diff: dense kernels tile by tile equal the neighbour-map pass; sampling
with different tile sizes gives the same image."""

from __future__ import annotations

import pytest
import torch

from infd_inftydiff.denoiser import InftyDiffDenoiser
from infd_inftydiff.model_config import DenoiserConfig, GridUNetConfig
from infd_inftydiff.sampling import sample_images
from infd_measures.discrete import DiscreteSchedule
from infd_measures.mollifier import GaussianMollifier
from infd_sparse import CoordinateBatch


def _model(train_resolution: int = 16, latent_dim: int = 0) -> InftyDiffDenoiser:
    torch.manual_seed(0)
    config = DenoiserConfig(
        train_resolution=train_resolution, sparse_blocks=2, latent_dim=latent_dim,
        grid=GridUNetConfig(resolution=8),
    )  # fmt: skip
    model = InftyDiffDenoiser(config)
    for p in model.parameters():  # the zero-initialised heads would hide bugs
        torch.nn.init.normal_(p, std=0.1)
    return model.eval()


# (train resolution, H, W, tile pixels per image): kernels 7 → 7, 13, 25 and 25 > a 16-pixel side
CASES = [(32, 32, 32, 256), (16, 48, 40, 300), (32, 128, 128, 4096), (4, 16, 11, 40)]


@pytest.mark.parametrize(("train", "h", "w", "tile"), CASES)
def test_tiled_dense_evaluation_equals_the_neighbour_map_pass(train, h, w, tile):
    model = _model(train)
    g = torch.Generator().manual_seed(h + w)
    points = CoordinateBatch.full(2, (h, w))
    values = torch.randn(points.num_points, 3, generator=g)
    t = torch.tensor([0.2, 0.9])
    with torch.no_grad():
        reference = model(values, points, t)
        tiled = model.evaluate(model.grid_tiles(2, (h, w), 2 * tile, "cpu"), values, t, (h, w))
    assert model.kernel_size_at((h, w)) == (7 - 1) * max(h, w) // train + 1
    scale = reference.abs().max()
    assert scale > 0.1  # a model whose output is not ~0
    torch.testing.assert_close(tiled, reference, atol=2e-5 * scale, rtol=1e-5)


def test_the_encoder_tile_by_tile_equals_the_neighbour_map_pass():
    model = _model(16, latent_dim=6)
    images = torch.randn(2, 3, 24, 20, generator=torch.Generator().manual_seed(5))
    points = CoordinateBatch.full(2, (24, 20))
    with torch.no_grad():
        reference = model.encode(images.permute(0, 2, 3, 1).reshape(-1, 3), points)
        tiled = model.encode_grid(images, tile_points=2 * 64)
    torch.testing.assert_close(tiled, reference, atol=1e-5, rtol=1e-5)


def test_tile_size_does_not_change_the_sample():
    """Three tile budgets (one tile, bands, small squares): the same 40×36 images to fp32 rounding.

    Tiles only change the order of float sums (splat reductions, FFT sizes): ~1e-6 per evaluation,
    which the Wiener inverse amplifies by at most 1/(2ε) = 10 at the paper's ε = 0.05.
    """
    model = _model(16)
    schedule = DiscreteSchedule.cosine(100)
    mollifier = GaussianMollifier(1.0, reference_resolution=16)

    def sample(tile: int) -> torch.Tensor:
        generators = [torch.Generator().manual_seed(i) for i in (0, 1)]
        size = (40, 36)
        return sample_images(
            model, schedule, mollifier, size, generators, steps=3, tile_points=tile, wiener_epsilon=0.05
        )

    images = [sample(tile) for tile in (10**6, 2 * 36 * 7, 2 * 100)]
    assert images[0].std() > 0.05
    for other in images[1:]:
        torch.testing.assert_close(other, images[0], atol=1e-4, rtol=0)
