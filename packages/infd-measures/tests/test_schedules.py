"""Schedules against their closed forms (Ho et al., Nichol & Dhariwal, Song et al.)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from infd_measures import CosineSchedule, DiscreteSchedule, ParameterError, VPSDESchedule
from infd_measures.configs import CosineScheduleConfig, LinearScheduleConfig, VPSDEScheduleConfig
from infd_measures.schedules import (
    cosine_schedule_from_config,
    linear_schedule_from_config,
    vpsde_schedule_from_config,
)

TIMES = torch.linspace(0.01, 0.98, 57, dtype=torch.float64)
CONTINUOUS = [VPSDESchedule(), VPSDESchedule(0.5, 8.0), CosineSchedule(), CosineSchedule(0.02)]


def test_vpsde_matches_closed_form_and_quadrature() -> None:
    s = VPSDESchedule(beta_min=0.1, beta_max=20.0)
    t = TIMES.numpy()
    closed = np.exp(-(0.1 * t + 0.5 * (20.0 - 0.1) * t**2))
    np.testing.assert_allclose(s.alpha_bar(TIMES).numpy(), closed, rtol=1e-12)
    # independent: ᾱ = exp(-∫β) by the trapezoid rule on a fine grid (tolerance 1e-8 relative)
    fine = np.linspace(0.0, 1.0, 200001)
    beta = s.beta(torch.tensor(fine)).numpy()
    integral = np.concatenate([[0.0], np.cumsum(0.5 * np.diff(fine) * (beta[1:] + beta[:-1]))])
    expected = np.exp(-integral[::1000])
    np.testing.assert_allclose(s.alpha_bar(torch.tensor(fine[::1000])).numpy(), expected, rtol=1e-8)


def test_cosine_matches_nichol_dhariwal() -> None:
    s = 0.008
    f = lambda t: np.cos((t + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    t = TIMES.numpy()
    np.testing.assert_allclose(CosineSchedule(s).alpha_bar(TIMES).numpy(), f(t) / f(0.0), rtol=1e-12)


def test_discrete_linear_matches_ddpm() -> None:
    betas = np.linspace(1e-4, 0.02, 1000)
    reference = np.concatenate([[1.0], np.cumprod(1.0 - betas)])
    d = DiscreteSchedule.linear(1000, 1e-4, 0.02)
    steps = torch.arange(0, 1001)
    np.testing.assert_allclose(d.alpha_bar(steps).numpy(), reference, rtol=1e-12)
    np.testing.assert_allclose(d.beta(steps[1:]).numpy(), betas, rtol=1e-12)
    np.testing.assert_allclose(d.step_alpha(steps[1:]).numpy(), 1.0 - betas, rtol=1e-12)


def test_discrete_cosine_matches_improved_ddpm() -> None:
    steps, s = 1000, 0.008
    f = lambda t: np.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    betas = np.minimum(1.0 - f(np.arange(1, steps + 1)) / f(np.arange(0, steps)), 0.999)
    reference = np.concatenate([[1.0], np.cumprod(1.0 - betas)])
    d = DiscreteSchedule.cosine(steps, s)
    np.testing.assert_allclose(d.alpha_bar(torch.arange(steps + 1)).numpy(), reference, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("schedule", CONTINUOUS, ids=repr)
def test_beta_equals_sigma2_dgamma_dt(schedule) -> None:
    # central differences of γ in float64: relative tolerance 1e-6
    h = 1e-6
    dgamma = (schedule.gamma(TIMES + h) - schedule.gamma(TIMES - h)) / (2 * h)
    torch.testing.assert_close(schedule.sigma(TIMES) ** 2 * dgamma, schedule.beta(TIMES), rtol=1e-6, atol=0)


@pytest.mark.parametrize("schedule", CONTINUOUS, ids=repr)
def test_quantities_are_consistent(schedule) -> None:
    ab = schedule.alpha_bar(TIMES)
    torch.testing.assert_close(schedule.alpha(TIMES) ** 2, ab, rtol=1e-12, atol=0)
    torch.testing.assert_close(schedule.alpha(TIMES) ** 2 + schedule.sigma(TIMES) ** 2, torch.ones_like(ab))
    torch.testing.assert_close(schedule.logsnr(TIMES), torch.log(ab / (1 - ab)), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(schedule.gamma(TIMES), -schedule.logsnr(TIMES))
    full = schedule.alpha_bar(torch.linspace(0, 1, 1001))
    assert bool((full[1:] < full[:-1]).all()), "alpha_bar must decrease strictly"
    assert schedule.alpha_bar(0.0).item() == 1.0


DISCRETE = [DiscreteSchedule.linear(), DiscreteSchedule.cosine(), VPSDESchedule().discretize(500)]


@pytest.mark.parametrize("schedule", DISCRETE, ids=repr)
def test_discrete_alpha_bar_monotone_and_consistent(schedule) -> None:
    k = torch.arange(schedule.num_steps + 1)
    ab = schedule.alpha_bar(k)
    assert ab[0] == 1.0
    assert bool((ab[1:] < ab[:-1]).all())
    torch.testing.assert_close(ab[1:] / ab[:-1], 1.0 - schedule.beta(k[1:]), rtol=1e-12, atol=0)
    torch.testing.assert_close(schedule.alpha(k) ** 2 + schedule.sigma(k) ** 2, torch.ones_like(ab))
    torch.testing.assert_close(schedule.logsnr(k[1:]), torch.log(ab[1:] / (1 - ab[1:])), rtol=1e-9, atol=1e-9)


def test_discrete_vpsde_approaches_continuous() -> None:
    # the T-step DDPM linear schedule tends to the VP-SDE (β_min = Tβ_1): |Δᾱ| < 1e-3 at T = 1000
    d = DiscreteSchedule.linear(1000, 1e-4, 0.02)
    c = VPSDESchedule.from_ddpm_linear(1000, 1e-4, 0.02)
    k = torch.arange(0, 1001, 50)
    torch.testing.assert_close(d.alpha_bar(k), c.alpha_bar(k.double() / 1000.0), atol=1e-3, rtol=0)


def test_per_component_time_vectors() -> None:
    s = CosineSchedule()
    t = torch.tensor([[0.1, 0.5, 0.9]], dtype=torch.float32)
    out = s.sigma(t)
    assert out.shape == (1, 3)
    assert out.dtype == torch.float32
    for i in range(3):
        assert out[0, i].item() == pytest.approx(s.sigma(float(t[0, i])).item(), rel=1e-6)


@pytest.mark.parametrize("bad", [-0.1, 1.01, float("nan"), torch.tensor([0.5, 2.0])])
def test_time_outside_unit_interval_raises(bad) -> None:
    with pytest.raises(ParameterError, match=r"t must lie in \[0, 1\]"):
        VPSDESchedule().alpha(bad)


def test_discrete_steps_are_checked() -> None:
    d = DiscreteSchedule.linear(10)
    with pytest.raises(ParameterError, match="integer steps"):
        d.alpha_bar(0.5)
    with pytest.raises(ParameterError, match=r"step must lie in \[0, 10\]"):
        d.alpha_bar(11)
    with pytest.raises(ParameterError, match=r"step must lie in \[1, 10\]"):
        d.beta(0)


def test_config_factories_and_validation() -> None:
    assert isinstance(linear_schedule_from_config(LinearScheduleConfig()), DiscreteSchedule)
    assert isinstance(linear_schedule_from_config(LinearScheduleConfig(continuous=True)), VPSDESchedule)
    assert isinstance(cosine_schedule_from_config(CosineScheduleConfig(num_steps=None)), CosineSchedule)
    assert cosine_schedule_from_config(CosineScheduleConfig()).num_steps == 1000
    assert vpsde_schedule_from_config(VPSDEScheduleConfig(num_steps=20)).num_steps == 20
    with pytest.raises(ValueError, match="greater than 0"):
        VPSDEScheduleConfig(beta_min=-1.0)
    with pytest.raises(ValueError, match="beta_end must be >= beta_start"):
        LinearScheduleConfig(beta_start=0.02, beta_end=0.01)
    with pytest.raises(ParameterError, match="beta_min must be > 0"):
        VPSDESchedule(beta_min=-0.1)
