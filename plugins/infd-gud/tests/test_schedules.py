"""The design space: limits of the linear schedule, the autoregressive column schedule, parameter ranges."""

from __future__ import annotations

import math

import pytest
import torch
from gud_helpers import registry

from infd_gud.config import BasisSettings, PriorSettings, ScheduleSettings
from infd_gud.errors import GudUsageError
from infd_gud.space import ComponentSpace


def _images(count: int = 64, size: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.avg_pool2d(torch.randn(count, 3, size + 2, size + 2, generator=g), 3, 1)
    return smooth.clamp(-1, 1)


def _space(basis: str, prior: str, schedule: ScheduleSettings, size: int = 8) -> ComponentSpace:
    space = ComponentSpace(BasisSettings(name=basis), PriorSettings(kind=prior), schedule, (size, size), 3,
                           registry())  # fmt: skip
    return space.fit(_images(size=size))


@pytest.mark.parametrize(("basis", "prior"), [("pca", "data"), ("fft", "data"), ("pca", "isotropic")])
def test_infinite_softness_is_standard_diffusion(basis: str, prior: str) -> None:
    space = _space(basis, prior, ScheduleSettings(name="linear-soft", softness=math.inf))
    schedule = space.schedule()
    t = torch.linspace(0, 1, 21, dtype=torch.float64)
    gamma = schedule.gamma(t)  # (21, D)
    log_var = space.prior.state_log_variance()
    # every component follows the same linear logSNR path, shifted only by its variance (0 when whitened)
    shifted = gamma - log_var
    assert torch.allclose(shifted, shifted[:, :1].expand_as(shifted), atol=1e-10)
    gamma_noise = max(3.0, math.log(0.99**2 / (1 - 0.99**2)) - float(log_var.min()))
    assert torch.allclose(shifted[:, 0], -7.0 + (gamma_noise + 7.0) * t, atol=1e-10)
    if prior == "data":  # whitened: Σ_i = 1, so all components share one scalar schedule
        assert torch.allclose(schedule.alpha(t), schedule.alpha(t)[:, :1].expand_as(gamma), atol=1e-12)
    # a large finite softness converges to the same schedule
    near = space.schedule({"softness": 1e9, "ordering_r": 0.0}).gamma(t)
    assert torch.allclose(near, gamma, atol=1e-6)
    finite = space.schedule({"softness": 1.0, "ordering_r": 0.0}).gamma(t)
    if prior == "data" or basis == "pca":
        assert not torch.allclose(finite, gamma, atol=1e-3)


def test_columnwise_with_disjoint_windows_is_autoregressive() -> None:
    size = 8
    b = (size - 1) / size  # active windows [t_j, t_j + 1 - b] of length 1/L touch but never overlap
    space = _space("pixel", "data", ScheduleSettings(name="columnwise", b=b), size)
    schedule = space.schedule()
    t = torch.linspace(0, 1, 801, dtype=torch.float64)[1:-1]
    beta = schedule.beta(t).reshape(len(t), size, size)  # (T, rows, columns)
    column = torch.arange(size)
    start = b * (size - 1 - column) / (size - 1)
    for j in range(size):
        inside = (t >= start[j] - 1e-12) & (t <= start[j] + (1 - b) + 1e-12)
        assert bool((beta[~inside][:, :, j] == 0).all()), f"column {j} moves outside its window"
        assert bool((beta[inside][:, :, j] > 0).all())
    active = (beta > 0).any(dim=1).sum(dim=1)  # columns moving at each time
    assert int(active.max()) <= 2 and float((active == 1).double().mean()) > 0.95
    # columns are generated right to left in time: the left column is the last one noised
    assert float(start[0]) == pytest.approx(b) and float(start[-1]) == 0.0


def test_schedule_parameters_out_of_range() -> None:
    space = _space("pixel", "data", ScheduleSettings(name="columnwise", b=0.5))
    with pytest.raises(GudUsageError, match=r"b=1.5 out of range"):
        space.schedule({"b": 1.5})
    with pytest.raises(GudUsageError, match="takes"):
        space.schedule({"softness": 2.0})
    soft = _space("pca", "data", ScheduleSettings(name="linear-soft"))
    with pytest.raises(GudUsageError, match="softness"):
        soft.schedule({"softness": -1.0})


def test_random_parameters_per_batch_stay_in_range() -> None:
    space = _space("pixel", "data", ScheduleSettings(name="columnwise", b=0.5, b_range=(0.2, 0.8)))
    draws = [space.draw_parameters(torch.Generator().manual_seed(i))["b"] for i in range(20)]
    assert all(0.2 <= v <= 0.8 for v in draws) and len(set(draws)) == 20
    again = [space.draw_parameters(torch.Generator().manual_seed(i))["b"] for i in range(20)]
    assert draws == again
