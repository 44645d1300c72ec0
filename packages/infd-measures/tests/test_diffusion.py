"""Forward marginals and posteriors of standard and mollified diffusion (∞-Diff eqs. 9-10, App. B.1)."""

from __future__ import annotations

import pytest
import torch
from measures_testutils import make_generator, sample_covariance, standard_errors

from infd_measures import (
    CosineSchedule,
    DiscreteSchedule,
    GaussianDiffusion,
    GaussianMollifier,
    ParameterError,
)

SCHEDULE = DiscreteSchedule.cosine(100)
N = 12
DRAWS = 20_000


def _x0() -> torch.Tensor:
    return torch.linspace(-1.0, 1.0, N, dtype=torch.float64).sin().reshape(1, 1, N)


@pytest.mark.parametrize("mollifier", [None, GaussianMollifier(1.5, ndim=1)], ids=["standard", "mollified"])
@pytest.mark.parametrize("t", [1, 2, 37, 100])
def test_posterior_composes_with_marginal_to_previous_marginal(mollifier, t: int) -> None:
    diffusion = GaussianDiffusion(SCHEDULE, mollifier)
    c = diffusion.posterior_coefficients(t)
    ab_t, ab_s = SCHEDULE.alpha_bar(t), SCHEDULE.alpha_bar(t - 1)
    # App. B.1: A μ + b = √ᾱ_{t-1} T x0 and L⁻¹ + A Λ⁻¹ A* = (1 - ᾱ_{t-1}) T T*  (both scalars × T-terms)
    assert (c.coef_xt * ab_t.sqrt() + c.coef_x0).item() == pytest.approx(ab_s.sqrt().item(), rel=1e-12)
    assert (c.variance + c.coef_xt**2 * (1 - ab_t)).item() == pytest.approx(
        (1 - ab_s).item(), rel=1e-10, abs=1e-15
    )
    # DDPM's closed forms (Ho et al. eq. 7) with β_t, α_t = 1 - β_t
    beta, alpha = SCHEDULE.beta(t), SCHEDULE.step_alpha(t)
    assert c.coef_xt.item() == pytest.approx((alpha.sqrt() * (1 - ab_s) / (1 - ab_t)).item(), rel=1e-12)
    assert c.coef_x0.item() == pytest.approx((ab_s.sqrt() * beta / (1 - ab_t)).item(), rel=1e-10)
    assert c.variance.item() == pytest.approx(((1 - ab_s) / (1 - ab_t) * beta).item(), rel=1e-10)


@pytest.mark.parametrize("mollifier", [None, GaussianMollifier(1.5, ndim=1)], ids=["standard", "mollified"])
def test_monte_carlo_composition_reproduces_q_previous(mollifier) -> None:
    t = 30
    diffusion = GaussianDiffusion(SCHEDULE, mollifier)
    x0 = _x0().expand(DRAWS, 1, N)
    g = make_generator(11)
    x_t, _ = diffusion.sample_marginal(x0, t, g)
    x_s = diffusion.sample_posterior(x_t, x0, t, g)
    t_mat = torch.eye(N, dtype=torch.float64) if mollifier is None else mollifier.matrix((N,))
    mean = SCHEDULE.alpha_bar(t - 1).sqrt() * (t_mat @ _x0()[0, 0])
    cov = (1 - SCHEDULE.alpha_bar(t - 1)) * t_mat @ t_mat.T
    centred = x_s[:, 0] - mean
    se_mean = cov.diagonal().sqrt() / DRAWS**0.5
    assert ((centred.mean(0)).abs() < 5 * se_mean).all()  # mean within 5 standard errors
    ratio = (sample_covariance(centred) - cov).abs() / standard_errors(cov, DRAWS)
    assert ratio.max().item() < 5.0  # covariance entries within 5 standard errors


def test_mollified_marginal_matches_eq_9() -> None:
    mollifier = GaussianMollifier(1.0, ndim=1)
    diffusion = GaussianDiffusion(SCHEDULE, mollifier)
    x0 = _x0().expand(3, 1, N)
    t = torch.tensor([1, 50, 100])
    noise = torch.randn(x0.shape, generator=make_generator(), dtype=torch.float64)
    x_t, target = diffusion.sample_marginal(x0, t, make_generator(), noise=noise)
    ab = SCHEDULE.alpha_bar(t).view(3, 1, 1)
    expected = ab.sqrt() * mollifier.apply(x0) + (1 - ab).sqrt() * mollifier.apply(noise)
    torch.testing.assert_close(x_t, expected)
    torch.testing.assert_close(target, mollifier.apply(noise))


def test_continuous_posterior_needs_s_and_is_consistent() -> None:
    diffusion = GaussianDiffusion(CosineSchedule())
    with pytest.raises(ParameterError, match="need the earlier time s"):
        diffusion.posterior_coefficients(0.5)
    c = diffusion.posterior_coefficients(0.6, 0.4)
    s = CosineSchedule()
    ab_t, ab_s = s.alpha_bar(0.6), s.alpha_bar(0.4)
    assert (c.coef_xt * ab_t.sqrt() + c.coef_x0).item() == pytest.approx(ab_s.sqrt().item(), rel=1e-12)
    assert (c.variance + c.coef_xt**2 * (1 - ab_t)).item() == pytest.approx((1 - ab_s).item(), rel=1e-12)
    with pytest.raises(ParameterError, match="0 <= s < t"):
        diffusion.posterior_coefficients(0.4, 0.6)


@pytest.mark.parametrize("mollifier", [None, GaussianMollifier(1.0)], ids=["standard", "mollified"])
def test_marginal_at_sparse_coordinates_equals_grid_marginal(mollifier) -> None:
    from infd_measures import grid_coordinates

    diffusion = GaussianDiffusion(SCHEDULE, mollifier)
    x0 = torch.randn(2, 3, 6, 5, generator=make_generator(), dtype=torch.float64)
    t = torch.tensor([10, 90])
    subset = torch.tensor([0, 7, 11, 29])
    coords = grid_coordinates((6, 5), dtype=torch.float64)[subset].expand(2, 4, 2)
    on_grid, grid_target = diffusion.sample_marginal(x0, t, make_generator(4))
    at_points, target = diffusion.sample_marginal_at(x0, t, coords, make_generator(4))
    torch.testing.assert_close(at_points, on_grid.flatten(-2)[..., subset].transpose(-1, -2))
    torch.testing.assert_close(target, grid_target.flatten(-2)[..., subset].transpose(-1, -2))
