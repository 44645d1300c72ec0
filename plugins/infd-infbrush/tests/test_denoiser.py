"""The conditional denoiser: tiled evaluation equals the whole pass, conditions, gradients."""

from __future__ import annotations

import pytest
import torch

from infd_core.mixed_precision import autocast_errors
from infd_infbrush.attention import TokenSet
from infd_infbrush.denoiser import InfBrushDenoiser
from infd_infbrush.errors import ConditionError
from infd_infbrush.model_config import BrushDenoiserConfig
from infd_inftydiff import GridUNetConfig
from infd_sparse import CoordinateBatch


def _model(std: float = 0.1, train: int = 8, kernel: int = 3, **condition: object) -> InfBrushDenoiser:
    torch.manual_seed(0)
    config = BrushDenoiserConfig(
        train_resolution=train, kernel_size=kernel, sparse_channels=8,
        grid=GridUNetConfig(resolution=8, channels=8), condition={"dim": 3, "width": 8, **condition},
    )  # fmt: skip
    model = InfBrushDenoiser(config)
    for p in model.parameters():  # the zero-initialised outputs would hide bugs
        torch.nn.init.normal_(p, std=std)
    return model.eval()


# (grid, training resolution, kernel, resized kernel, tile pixels per image): 7 at 2.5×, 9 at 4×, 17 at
# 8× (48×64: unequal sides) and 25 on an image 16 pixels high (larger than the image)
TILED = [
    ((20, 13), 8, 3, 7, 13 * 3),
    ((20, 13), 8, 3, 7, 7 * 5),
    ((20, 13), 8, 3, 7, 20 * 13),
    ((32, 32), 8, 3, 9, 100),
    ((48, 64), 8, 3, 17, 1000),
    ((16, 11), 4, 7, 25, 30),
]


@pytest.mark.parametrize(("grid", "train", "kernel", "resized", "tile"), TILED)
def test_tiled_evaluation_equals_the_whole_pass(grid, train, kernel, resized, tile):
    """Every pixel of two images tile by tile with dense kernels: halos, per-sample attention sums and
    grid splats reduced over tiles give the output of the whole pass through neighbour maps, whatever
    the tile size (one tile, bands, small squares)."""
    model = _model(train=train, kernel=kernel)
    g = torch.Generator().manual_seed(1)
    points = CoordinateBatch.full(2, grid)
    values = torch.randn(points.num_points, 3, generator=g)
    t = torch.tensor([0.3, 0.8])
    tokens = model.condition_tokens(torch.randn(2, 3, generator=g))
    with torch.no_grad():
        whole = model(values, points, t, tokens)
        tiles = model.grid_tiles(2, grid, 2 * tile, "cpu")
        assert model.kernel_size_at(grid) == resized and tiles.halo == resized // 2
        tiled = model.evaluate(tiles, values, t, tokens, grid)
    scale = whole.abs().max()
    assert scale > 0.1
    torch.testing.assert_close(tiled, whole, atol=2e-5 * scale, rtol=1e-5)


def test_condition_changes_the_output_and_samples_do_not_interact():
    model = _model(std=0.3)
    g = torch.Generator().manual_seed(3)
    points = CoordinateBatch.random(2, (8, 8), 2, g)
    values = torch.randn(points.num_points, 3, generator=g)
    t = torch.tensor([0.5, 0.5])
    vectors = torch.eye(3)[:2]
    with torch.no_grad():
        a = model(values, points, t, model.condition_tokens(vectors))
        b = model(values, points, t, model.condition_tokens(vectors.flip(0)))
        null = model(values, points, t, model.null_tokens(2))
        first = points.batch == 0
        alone = CoordinateBatch(points.coords[first], points.batch[first], points.grid, 1)
        single = model(values[first], alone, t[:1], model.condition_tokens(vectors[:1]))
    assert (a - b).abs().max() > 1e-2 and (a - null).abs().max() > 1e-2
    torch.testing.assert_close(a[first], single, atol=1e-5, rtol=1e-5)
    dropped = model.condition_tokens(vectors, drop=torch.tensor([True, False]))
    torch.testing.assert_close(dropped.tokens[: model.config.condition.null_tokens], model.condition.null)


def test_patch_conditions_and_encoder_tokens():
    model = _model(kind="patches", patch_size=4, reference_resolution=8, encoder_width=6)
    g = torch.Generator().manual_seed(4)
    references = torch.randn(2, 3, 8, 8, generator=g)
    tokens = model.condition_tokens(references)
    assert tokens.tokens.shape == (2 * 4, 8) and tokens.batch.tolist() == [0] * 4 + [1] * 4
    # ready-made encoder tokens (a ragged set) go through the same projection
    encoded = TokenSet(torch.randn(5, 6, generator=g), torch.tensor([0, 0, 0, 1, 1]), 2)
    assert model.condition_tokens(encoded).tokens.shape == (5, 8)
    with pytest.raises(ConditionError, match="6 features"):
        model.condition_tokens(TokenSet(torch.randn(2, 5), torch.tensor([0, 1]), 2))
    with pytest.raises(ConditionError, match="reference images"):
        model.condition_tokens(torch.randn(2, 3, 2, 2))


def test_wrong_condition_dimension():
    model = _model()
    with pytest.raises(ConditionError, match=r"vectors \[B, 3\]"):
        model.condition_tokens(torch.zeros(2, 4))
    points = CoordinateBatch.full(1, (8, 8))
    with pytest.raises(ConditionError, match="condition tokens"):
        model(torch.zeros(64, 3), points, torch.tensor([0.1]), model.null_tokens(2))


def test_every_parameter_gets_a_gradient():
    config = BrushDenoiserConfig(train_resolution=8, condition={"dim": 2})
    model = InfBrushDenoiser(config).train()
    points = CoordinateBatch.random(2, (8, 8), 2, torch.Generator().manual_seed(5))
    tokens = model.condition_tokens(torch.eye(2), drop=torch.tensor([True, False]))
    out = model(torch.randn(points.num_points, 3), points, torch.rand(2), tokens)
    (out - torch.randn_like(out)).square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert model.head.weight.grad.abs().sum() > 0


def test_bfloat16_autocast_tracks_float32():
    """The CUDA training path (``optim.amp``) on CPU autocast: prediction and gradients, cross-attention
    included, stay within bfloat16 rounding of float32."""
    model = _model()
    g = torch.Generator().manual_seed(5)
    points = CoordinateBatch.random(2, (8, 8), 2, g)
    values, t = torch.randn(points.num_points, 3, generator=g), torch.rand(2, generator=g)
    target, condition = torch.randn(points.num_points, 3, generator=g), torch.randn(2, 3, generator=g)
    predict = lambda: model(values, points, t, model.condition_tokens(condition))  # noqa: E731
    out_error, grad_error = autocast_errors(model, predict, target)
    assert 0 < out_error < 0.02 and 0 < grad_error < 0.03  # bfloat16 keeps 8 bits: 2^-8 ≈ 0.004
