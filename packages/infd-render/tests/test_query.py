"""The CLIF/LIIF query against grid_sample (nearest, align_corners=False) and direct formulas."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from infd_render import coordinate_grid, gather_query
from infd_render.layers import exact_exp, exact_silu


def test_nearest_feature_matches_grid_sample():
    feats = torch.randn(1, 5, 6, 9)
    coords = coordinate_grid((23, 31)).unsqueeze(0)
    query = gather_query(feats, coords, None)
    reference = F.grid_sample(feats, coords.flip(-1), mode="nearest", align_corners=False)
    assert torch.equal(query[..., :5].permute(0, 3, 1, 2), reference)


def test_relative_coordinate_and_cell():
    feats = torch.randn(1, 2, 4, 4)
    coords = torch.tensor([[[0.1, -0.6]]])
    cells = torch.tensor([[0.02, 0.04]])
    query = gather_query(feats, coords, cells)[0, 0]
    # nearest cell centres on a 4-grid: -0.75, -0.25, 0.25, 0.75 -> 0.25 and -0.75
    assert torch.allclose(query[2:4], torch.tensor([(0.1 - 0.25) * 4, (-0.6 + 0.75) * 4]))
    assert torch.allclose(query[4:], torch.tensor([0.08, 0.16]))


def test_exact_silu_matches_torch():
    x = torch.linspace(-30, 30, 10001)
    assert torch.allclose(exact_silu(x), F.silu(x), atol=1e-6, rtol=1e-6)
    assert torch.allclose(exact_exp(x), torch.exp(x), rtol=3e-7)


def test_rows_per_call_defaults_by_device_and_honours_configs():
    from infd_render.layers import fixed_rows, rows_per_call

    assert rows_per_call(None, torch.device("cpu")) == 4096
    assert rows_per_call(None, torch.device("cuda")) == 65536
    assert rows_per_call(512, torch.device("cuda")) == 512
    calls = []
    rows = torch.arange(10.0).reshape(5, 2)
    out = fixed_rows(lambda block: calls.append(block.shape[0]) or block * 2, rows, 4)
    assert calls == [4, 4] and torch.equal(out, rows * 2)


def test_exact_silu_gradient_matches_torch():
    """Training (INFD's autoencoder) differentiates through the in-place polynomial."""
    x = torch.linspace(-30, 30, 2001, requires_grad=True)
    exact_silu(x * 1.0).pow(2).sum().backward()
    reference = torch.linspace(-30, 30, 2001, dtype=torch.float64, requires_grad=True)
    F.silu(reference).pow(2).sum().backward()
    assert torch.allclose(x.grad.double(), reference.grad, atol=1e-4, rtol=1e-5)
