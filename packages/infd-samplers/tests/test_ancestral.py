"""DDPM and DDIM with the exact denoiser of Gaussian data reproduce its mean and covariance.

Samples start from the exact marginal at the first grid time; the reference is the closed-form marginal at
the last one (the data distribution for discrete schedules). Tolerance: every entry of the sample mean and
covariance within 5 standard errors, plus 0.02 for DDIM's discretisation where stated (coarse η > 0 grids
under-disperse: β̃ ignores the posterior variance of x₀, so η > 0 is tested with 500-1000 steps).
"""

from __future__ import annotations

import pytest
import torch
from samplers_testutils import COV3, DT, MEAN3, GaussianDenoiser, assert_moments, sample_gaussian

from infd_measures import CosineSchedule, DiscreteSchedule, GaussianMollifier
from infd_samplers import Denoiser, ddim, ddim_invert, ddpm, mollified_noise, unmollify

COUNT = 8000


def _start(denoiser, time, count=COUNT, seed=0):
    mean, cov = denoiser.marginal(time)
    return sample_gaussian(mean, cov, count, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("variance", ["beta_tilde", "beta"])
def test_ddpm_reproduces_gaussian_data(variance):
    schedule = DiscreteSchedule.linear(1000)
    denoiser = GaussianDenoiser(MEAN3, COV3, schedule)
    out = ddpm(
        denoiser,
        _start(denoiser, 1000),
        schedule,
        1000,
        generator=torch.Generator().manual_seed(1),
        variance=variance,
    )
    assert_moments(out, MEAN3, COV3)


@pytest.mark.parametrize(("eta", "steps"), [(0.0, 100), (0.5, list(range(1000, 0, -2))), (1.0, 1000)])
def test_ddim_reproduces_gaussian_data(eta, steps):
    schedule = DiscreteSchedule.linear(1000)
    denoiser = GaussianDenoiser(MEAN3, COV3, schedule)
    first = steps if isinstance(steps, list) else None
    x = _start(denoiser, first[0] if first else 1000)
    out = ddim(denoiser, x, schedule, steps, eta=eta, generator=torch.Generator().manual_seed(2))
    assert_moments(out, MEAN3, COV3, bias=0.02)


@pytest.mark.parametrize("parameterisation", ["x0", "v", "score"])
def test_ddim_on_a_continuous_schedule_in_every_parameterisation(parameterisation):
    schedule = CosineSchedule()
    denoiser = GaussianDenoiser(MEAN3, COV3, schedule, parameterisation)
    x = _start(denoiser, torch.tensor(0.999, dtype=DT), count=4000)
    grid = torch.linspace(0.999, 0.0, 101, dtype=DT)
    out = ddim(denoiser, x, schedule, grid, parameterisation=parameterisation)
    assert_moments(out, MEAN3, COV3, bias=0.02)


def test_ddim_eta0_is_deterministic_and_inverts():
    schedule = DiscreteSchedule.linear(1000)
    denoiser = GaussianDenoiser(MEAN3, COV3, schedule)
    x = _start(denoiser, 1000, count=64)
    a = ddim(denoiser, x, schedule, 1000, generator=torch.Generator().manual_seed(0))
    b = ddim(denoiser, x, schedule, 1000, generator=torch.Generator().manual_seed(99))
    assert torch.equal(a, b)  # η = 0 draws nothing: the same computation
    encoded = ddim_invert(denoiser, a, schedule, 1000)  # first-order: error ≈ 17/steps here
    torch.testing.assert_close(encoded, x, rtol=0, atol=0.03)
    decoded = ddim(denoiser, encoded, schedule, 1000)
    torch.testing.assert_close(decoded, a, rtol=0, atol=0.03)


def _mollified_gaussian(size=12):
    grid = (torch.arange(size, dtype=DT) + 0.5) / size
    mean = torch.sin(2 * torch.pi * grid)
    cov = torch.exp(-0.5 * (grid[:, None] - grid[None, :]) ** 2 / 0.15**2) + 1e-3 * torch.eye(size, dtype=DT)
    mollifier = GaussianMollifier(1.0, ndim=1)
    blur = mollifier.matrix((size,))
    return mean, cov, mollifier, blur


def test_mollified_ddpm_samples_the_mollified_data_and_unmollifies():
    """∞-Diff: x_t = α T x₀ + σ Tξ; a Tξ-predicting denoiser (eq. 40) with noise through T gives T x₀ ~
    N(Tμ, TΣTᵀ); an x₀-predicting denoiser mollified in the wrapper (eq. 36) gives the same samples; the
    Wiener inverse recovers N(μ, Σ)."""
    mean, cov, mollifier, blur = _mollified_gaussian()
    schedule = DiscreteSchedule.linear(250, 4e-4, 0.08)
    noise_model = GaussianDenoiser(
        blur @ mean, blur @ cov @ blur.T, schedule, "mollified_eps", noise_cov=blur @ blur.T
    )
    x = _start(noise_model, 250, count=4000).reshape(-1, 1, mean.numel())
    noise = mollified_noise(mollifier)
    out = ddpm(
        Denoiser(noise_model, "mollified_eps"),
        x,
        schedule,
        250,
        generator=torch.Generator().manual_seed(3),
        noise=noise,
    )
    assert_moments(out, blur @ mean, blur @ cov @ blur.T)

    state_x0 = GaussianDenoiser(blur @ mean, blur @ cov @ blur.T, schedule, "x0", noise_cov=blur @ blur.T)

    def unmollified_x0(x_t, t):
        return torch.linalg.solve(blur, state_x0(x_t, t).flatten(1).T).T.reshape(x_t.shape)

    via_x0 = ddpm(
        Denoiser(unmollified_x0, "x0", mollify=mollifier.apply),
        x,
        schedule,
        250,
        generator=torch.Generator().manual_seed(3),
        noise=noise,
    )
    torch.testing.assert_close(via_x0, out, rtol=0, atol=1e-8)
    assert_moments(unmollify(out, mollifier, epsilon=1e-8), mean, cov)
