"""The ∞-Diff denoiser: shapes, resolutions, point-order equivariance, gradients, config checks."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from infd_core.mixed_precision import autocast_errors
from infd_inftydiff.config import InftyDiffConfig
from infd_inftydiff.denoiser import InftyDiffDenoiser
from infd_inftydiff.model_config import DenoiserConfig, GridUNetConfig
from infd_sparse import CoordinateBatch


def _model() -> InftyDiffDenoiser:
    torch.manual_seed(0)
    model = InftyDiffDenoiser(DenoiserConfig(train_resolution=16, grid=GridUNetConfig(resolution=8)))
    for p in model.parameters():  # the zero-initialised heads would hide bugs
        torch.nn.init.normal_(p, std=0.05)
    return model.eval()


def test_runs_on_subsets_and_on_larger_grids():
    model = _model()
    g = torch.Generator().manual_seed(1)
    sparse = CoordinateBatch.random(3, (16, 16), 4, g)
    out = model(torch.randn(sparse.num_points, 3, generator=g), sparse, torch.rand(3, generator=g))
    assert out.shape == (sparse.num_points, 3) and torch.isfinite(out).all()
    full = CoordinateBatch.full(1, (48, 48))
    assert model.neighbours(full).kernel_size == 19  # (7 − 1)·3 + 1
    out = model(torch.randn(full.num_points, 3, generator=g), full, torch.tensor([0.3]))
    assert out.shape == (48 * 48, 3) and torch.isfinite(out).all()


def test_point_order_within_a_sample_does_not_matter():
    model = _model()
    g = torch.Generator().manual_seed(2)
    points = CoordinateBatch.random(1, (16, 16), 2, g)
    values = torch.randn(points.num_points, 3, generator=g)
    t = torch.tensor([0.4])
    perm = torch.randperm(points.num_points, generator=g)
    shuffled = CoordinateBatch(points.coords[perm], points.batch[perm], points.grid, 1)
    with torch.no_grad():
        out = model(values, points, t)
        out_shuffled = model(values[perm], shuffled, t)
    torch.testing.assert_close(out_shuffled, out[perm], atol=1e-5, rtol=1e-5)


def test_samples_in_a_batch_do_not_interact():
    model = _model()
    g = torch.Generator().manual_seed(3)
    pair = CoordinateBatch.random(2, (16, 16), 4, g)
    values = torch.randn(pair.num_points, 3, generator=g)
    t = torch.tensor([0.2, 0.7])
    with torch.no_grad():
        both = model(values, pair, t)
        first = pair.batch == 0
        alone = CoordinateBatch(pair.coords[first], pair.batch[first], pair.grid, 1)
        single = model(values[first], alone, t[:1])
    torch.testing.assert_close(both[first], single, atol=1e-5, rtol=1e-5)


def test_every_parameter_gets_a_gradient():
    model = InftyDiffDenoiser(DenoiserConfig(train_resolution=16))
    model.train()
    points = CoordinateBatch.random(2, (16, 16), 4, torch.Generator().manual_seed(4))
    out = model(torch.randn(points.num_points, 3), points, torch.rand(2))
    (out - torch.randn_like(out)).square().mean().backward()
    # zero-initialised output layers pass gradient to themselves first; all must be finite
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert model.head.weight.grad.abs().sum() > 0


def test_config_presets_and_errors():
    paper = InftyDiffConfig.model_validate({"preset": "paper", "data": {"resolution": 256}})
    assert paper.model.sparse_channels == 64 and paper.model.grid.channel_mult == [1, 2, 4, 8, 8]
    assert paper.model.train_resolution == 256
    tweaked = InftyDiffConfig.model_validate({"preset": "paper", "model": {"grid": {"dropout": 0.0}}})
    assert tweaked.model.grid.dropout == 0.0 and tweaked.model.grid.channels == 128
    with pytest.raises(ValidationError, match="subsampling"):
        InftyDiffConfig.model_validate({"data": {"subsampling": 1.0}})
    with pytest.raises(ValidationError, match="kernel_size must be odd"):
        InftyDiffConfig.model_validate({"model": {"kernel_size": 6}})
    with pytest.raises(ValidationError, match="not divisible"):
        GridUNetConfig(resolution=12, channel_mult=[1, 2, 2, 2])


def test_bfloat16_autocast_tracks_float32():
    """The CUDA training path (``optim.amp``) on CPU autocast: the same ops run in bfloat16 around the
    sparse convolutions; prediction and gradients stay within bfloat16 rounding of float32."""
    model = _model()
    g = torch.Generator().manual_seed(4)
    points = CoordinateBatch.random(2, (16, 16), 4, g)
    values, t = torch.randn(points.num_points, 3, generator=g), torch.rand(2, generator=g)
    target = torch.randn(points.num_points, 3, generator=g)
    out_error, grad_error = autocast_errors(model, lambda: model(values, points, t), target)
    assert 0 < out_error < 0.02 and 0 < grad_error < 0.03  # bfloat16 keeps 8 bits: 2^-8 ≈ 0.004
