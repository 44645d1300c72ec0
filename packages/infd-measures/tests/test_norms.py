"""L² and Sobolev H¹ norms against closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from measures_testutils import make_generator

from infd_measures import ParameterError, l2_squared_norm, sobolev_h1_squared_norm


@pytest.mark.parametrize("k", [1, 2, 3])
def test_sobolev_norm_of_sines(k: int) -> None:
    # f = sin(2πkx) on [0, 1]: ∫f² = 1/2, ∫f'² = 2π²k²; 2001 uniform points, relative tolerance 1e-4
    x = torch.linspace(0, 1, 2001, dtype=torch.float64).unsqueeze(-1)
    f = torch.sin(2 * math.pi * k * x)
    assert sobolev_h1_squared_norm(f, x).item() == pytest.approx(0.5 + 2 * math.pi**2 * k**2, rel=1e-4)


def test_sobolev_norm_on_shuffled_nonuniform_points() -> None:
    # f = x²: ∫₀¹ f² = 1/5, ∫ f'² = 4/3; 4001 sorted random points, shuffled; relative tolerance 1e-4
    x = torch.rand(4001, generator=make_generator(), dtype=torch.float64)
    x = torch.cat([x, torch.tensor([0.0, 1.0], dtype=torch.float64)]).unsqueeze(-1)
    values = torch.stack([x[:, 0] ** 2, torch.zeros_like(x[:, 0])], dim=-1)  # two channels, one zero
    assert sobolev_h1_squared_norm(values, x).item() == pytest.approx(1 / 5 + 4 / 3, rel=1e-4)


def test_l2_and_batching() -> None:
    x = torch.linspace(0, 1, 1001, dtype=torch.float64).unsqueeze(-1)
    f = torch.stack([torch.cos(2 * math.pi * x), 2 * torch.cos(2 * math.pi * x)])  # (2, M, 1)
    h1 = sobolev_h1_squared_norm(f, x)
    assert h1.shape == (2,)
    assert h1[1].item() == pytest.approx(4 * h1[0].item())
    assert l2_squared_norm(f[0]).item() == pytest.approx(0.5, rel=2e-3)
    with pytest.raises(ParameterError, match="1 values per point"):
        sobolev_h1_squared_norm(f[0], torch.zeros(1001, 2))
    with pytest.raises(ParameterError, match="distinct coordinates"):
        sobolev_h1_squared_norm(torch.zeros(3, 1), torch.zeros(3, 1))
