"""GUD component-wise schedules against the paper's formulas (eqs. 19-22, §5.3), written out in numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from measures_testutils import make_generator

from infd_measures import ParameterError
from infd_measures.componentwise import (
    ComponentwiseSchedule,
    columnwise_schedule,
    haar_columnwise_schedule,
    linear_soft_schedule,
    noise_components,
    ordering_variables,
    soft_conditioning_endpoints,
)
from infd_measures.configs import ColumnwiseScheduleConfig, LinearSoftScheduleConfig

LOG_VAR = torch.tensor([2.0, 0.5, -1.0, -3.0, -4.5], dtype=torch.float64)
TIMES = torch.rand(40, generator=make_generator(3), dtype=torch.float64) * 0.98 + 0.01


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_linear_soft_matches_eqs_20_21() -> None:
    a = 1.0 / 0.7
    lv = LOG_VAR.numpy()
    ell = -lv  # PCA ordering l_i = -log Σ_i
    g_noise = max(3.0, _logit(0.99**2) - lv.min())
    gmin = -7.0 + lv + a * (ell - ell.max())
    gmax = g_noise + lv + a * (ell - ell.min())
    schedule = linear_soft_schedule(LOG_VAR, softness=0.7)
    t = TIMES.numpy()[:, None]
    np.testing.assert_allclose(schedule.gamma(TIMES).numpy(), gmin + (gmax - gmin) * t, rtol=1e-12)
    np.testing.assert_allclose(
        schedule.alpha(TIMES).numpy() ** 2, 1 / (1 + np.exp(gmin + (gmax - gmin) * t)), rtol=1e-10
    )


def test_endpoint_rule_of_the_paper() -> None:
    for softness in (0.5, 1.0, 3.0, math.inf):
        s = linear_soft_schedule(LOG_VAR, softness=softness)
        logsnr0 = s.data_logsnr(0.0)
        logsnr1 = s.data_logsnr(1.0)
        assert logsnr0.min().item() == pytest.approx(7.0)  # γ̃_denoise = -min_i logSNR_i(0) = -7
        g_noise = max(3.0, _logit(0.99**2) - LOG_VAR.min().item())
        assert -logsnr1.max().item() == pytest.approx(g_noise)  # γ̃_noise = -max_i logSNR_i(1)
        assert bool((s.sigma(1.0) >= 0.99 - 1e-12).all())  # σ_i(1) ≥ σ_min


def test_standard_diffusion_at_a_equal_one() -> None:
    # unwhitened PCA with l = -log Σ and a = 1: every component shares one γ(t) (GUD Fig. 2a)
    g = linear_soft_schedule(LOG_VAR, softness=1.0).gamma(TIMES)
    torch.testing.assert_close(g, g[:, :1].expand_as(g))
    # a = 0: logSNR_i(t) is the same for every component (Fig. 2b)
    snr = linear_soft_schedule(LOG_VAR, softness=math.inf).data_logsnr(TIMES)
    torch.testing.assert_close(snr, snr[:, :1].expand_as(snr))


def test_columnwise_matches_eq_22() -> None:
    n_cols, b = 6, 0.4
    cols = torch.arange(n_cols).repeat(3)  # a 3 x 6 image, row-major
    s = columnwise_schedule(cols, n_cols, b=b)
    gmin, gmax = -7.0, max(3.0, _logit(0.99**2))
    for t in TIMES.tolist():
        i = cols.numpy() + 1  # the paper's 1-based columns
        t_i = b * (n_cols - i) / (n_cols - 1)
        ref = np.clip(gmin + (t - t_i) * (gmax - gmin) / (1 - b), gmin, gmax)
        np.testing.assert_allclose(s.gamma(t).numpy(), ref, rtol=1e-12, atol=1e-12)
    # left column is the last to be noised: its σ is smallest at every time
    sig = s.sigma(TIMES)[:, :n_cols]
    assert bool((sig[:, 0] <= sig[:, -1]).all())


def test_haar_level_column_schedule_matches_section_5_3() -> None:
    n_levels, a, b = 3, 0.5, 0.3
    levels = torch.tensor([0, 0, 1, 1, 1, 2, 2, 2, 2])  # 0 = coarsest = the paper's i = 1
    cols = torch.tensor([0, 1, 0, 1, 3, 0, 2, 5, 7])
    ncols = torch.tensor([2, 2, 4, 4, 4, 8, 8, 8, 8])
    s = haar_columnwise_schedule(levels, n_levels, cols, ncols, a=a, b=b)
    gmin, gmax = -7.0, max(3.0, _logit(0.99**2))
    i, j, l_i = levels.numpy() + 1, cols.numpy() + 1, ncols.numpy()
    c_i, c_ij = a * (n_levels - i) / (n_levels - 1), b * (l_i - j) / (l_i - 1)
    for t in TIMES.tolist():
        t_i = np.clip((t - c_i) / (1 - a), 0, 1)
        ref = np.clip(gmin + (gmax - gmin) * (t_i - c_ij) / (1 - b), gmin, gmax)
        np.testing.assert_allclose(s.gamma(t).numpy(), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "schedule",
    [
        linear_soft_schedule(LOG_VAR, softness=0.8),
        columnwise_schedule(torch.arange(5), 5, b=0.5),
        haar_columnwise_schedule(
            torch.tensor([0, 1, 1, 2, 2]), 3, torch.tensor([0, 0, 1, 0, 3]), torch.tensor([1, 2, 2, 4, 4])
        ),
    ],
)
def test_beta_identity_and_monotone_alpha(schedule: ComponentwiseSchedule) -> None:
    # β_i = σ_i² dγ_i/dt by central differences (away from kinks: both sides must agree), rtol 1e-6
    h = 1e-7
    up, down = schedule.gamma(TIMES + h), schedule.gamma(TIMES - h)
    smooth = ((up - schedule.gamma(TIMES)) - (schedule.gamma(TIMES) - down)).abs() < 1e-9
    fd = schedule.sigma(TIMES) ** 2 * (up - down) / (2 * h)
    torch.testing.assert_close(fd[smooth], schedule.beta(TIMES)[smooth], rtol=1e-6, atol=1e-9)
    ab = schedule.alpha_bar(torch.linspace(0, 1, 501, dtype=torch.float64))
    assert bool((ab[1:] <= ab[:-1]).all())
    assert schedule.gamma(TIMES).shape == (TIMES.numel(), schedule.num_components)


def test_forward_noising_uses_sigmoid_of_gamma() -> None:
    gamma = torch.tensor([-4.0, 0.0, 2.5], dtype=torch.float64)
    x0 = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64).expand(40000, 3)
    xt, eps = noise_components(x0, gamma, make_generator(1))
    alpha, sigma = torch.sigmoid(-gamma).sqrt(), torch.sigmoid(gamma).sqrt()
    torch.testing.assert_close(xt, alpha * x0 + sigma * eps)
    # mean and std of 40k draws within 5 standard errors
    assert ((xt.mean(0) - alpha * x0[0]).abs() < 5 * sigma / 200).all()
    assert ((xt.std(0) - sigma).abs() < 5 * sigma / math.sqrt(2 * 40000)).all()
    s = linear_soft_schedule(LOG_VAR)
    batch = torch.zeros(4, 3, 5, dtype=torch.float64)
    xt, _ = s.noise(batch, torch.tensor([0.1, 0.2, 0.3, 0.4]), make_generator(2))
    assert xt.shape == (4, 3, 5)


def test_ordering_variables_interpolate_with_frequency() -> None:
    freq = torch.tensor([0.0, 1.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    l0 = ordering_variables(LOG_VAR)
    l1 = ordering_variables(LOG_VAR, freq, r=1.0)
    torch.testing.assert_close(l0, -LOG_VAR)
    assert l1.min().item() == pytest.approx(l0.min().item())
    assert l1.max().item() == pytest.approx(l0.max().item())
    torch.testing.assert_close(ordering_variables(LOG_VAR, freq, 0.25), 0.75 * l0 + 0.25 * l1)


def test_bad_parameters_raise() -> None:
    with pytest.raises(ParameterError, match="softness must be > 0"):
        linear_soft_schedule(LOG_VAR, softness=0.0)
    with pytest.raises(ParameterError, match="softness must be > 0"):
        linear_soft_schedule(LOG_VAR, softness=-2.0)
    with pytest.raises(ValueError, match="greater than 0"):
        LinearSoftScheduleConfig(softness=0.0)
    with pytest.raises(ValueError, match="less than 1"):
        ColumnwiseScheduleConfig(b=1.0)
    with pytest.raises(ParameterError, match=r"b must lie in \[0.0, 1.0\)"):
        columnwise_schedule(torch.arange(4), 4, b=1.0)
    with pytest.raises(ParameterError, match="below sigma_min"):
        soft_conditioning_endpoints(LOG_VAR, gamma_noise=3.0)
    with pytest.raises(ParameterError, match="needs the components' frequencies"):
        ordering_variables(LOG_VAR, None, r=0.5)
    with pytest.raises(ParameterError, match=r"t must lie in \[0, 1\]"):
        linear_soft_schedule(LOG_VAR).gamma(1.5)
