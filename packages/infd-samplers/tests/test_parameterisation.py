"""Conversions between ε, x₀, v, score and ∞-Diff's Tξ, checked against exact Gaussian denoisers and the
mollified posterior of infd-measures."""

from __future__ import annotations

import pytest
import torch
from samplers_testutils import COV3, DT, MEAN3, GaussianDenoiser

from infd_measures import DiscreteSchedule, GaussianDiffusion, GaussianMollifier, VPSDESchedule
from infd_samplers import (
    PARAMETERISATIONS,
    Denoiser,
    EDMPreconditioning,
    convert,
    mollified_mean_from_noise,
    mollified_mean_from_x0,
    to_x0_and_eps,
)


@pytest.mark.parametrize("source", PARAMETERISATIONS)
@pytest.mark.parametrize("target", PARAMETERISATIONS)
def test_conversions_agree_with_exact_predictions(source, target):
    schedule = VPSDESchedule()
    t = torch.full((5,), 0.4, dtype=DT)
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=DT)
    alpha, sigma = schedule.alpha(t[0]), schedule.sigma(t[0])
    prediction = GaussianDenoiser(MEAN3, COV3, schedule, source)(x, t)
    expected = GaussianDenoiser(MEAN3, COV3, schedule, target)(x, t)
    torch.testing.assert_close(
        convert(prediction, source, target, x, alpha, sigma), expected, rtol=1e-10, atol=1e-10
    )


def test_x0_and_eps_reconstruct_the_state():
    schedule = VPSDESchedule()
    t = torch.full((4,), 0.7, dtype=DT)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), dtype=DT)
    alpha, sigma = schedule.alpha(t[0]), schedule.sigma(t[0])
    x0, eps = to_x0_and_eps(GaussianDenoiser(MEAN3, COV3, schedule, "v")(x, t), "v", x, alpha, sigma)
    torch.testing.assert_close(alpha * x0 + sigma * eps, x, rtol=1e-12, atol=1e-12)


def test_mollified_means_of_eqs_32_and_40_match_the_posterior():
    """∞-Diff eq. 32 (x₀ predicted, then mollified) and eq. 40 (Tξ predicted) give the posterior mean of
    q(x_{t-1} | x_t, x₀) that infd-measures computes, when the predictions are the true x₀ and Tξ."""
    schedule = DiscreteSchedule.linear(100)
    mollifier = GaussianMollifier(1.0, ndim=1)
    gen = torch.Generator().manual_seed(2)
    x0 = torch.randn(3, 1, 16, generator=gen, dtype=DT)
    diffusion = GaussianDiffusion(schedule, mollifier)
    k = 37
    x_t, target = diffusion.sample_marginal(x0, k, gen)
    reference, _ = diffusion.posterior(x_t, x0, k)
    abar_t, abar_prev = schedule.alpha_bar(k), schedule.alpha_bar(k - 1)
    from_x0 = mollified_mean_from_x0(x_t, x0, abar_t, abar_prev, mollify=mollifier.apply)
    from_noise = mollified_mean_from_noise(x_t, target, abar_t, abar_prev)
    torch.testing.assert_close(from_x0, reference, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(from_noise, reference, rtol=1e-10, atol=1e-10)


def test_edm_preconditioning_is_applied_in_the_wrapper():
    """A raw network F whose preconditioned output c_skip x + c_out F is the exact x₀ gives exact x₀."""
    schedule = VPSDESchedule()
    exact = GaussianDenoiser(MEAN3, COV3, schedule, "x0")
    pre = EDMPreconditioning(sigma_data=0.8)
    seen = {}

    def network(scaled_x, t):
        alpha, sigma = schedule.alpha(t[0]), schedule.sigma(t[0])
        x = scaled_x / pre.c_in(alpha, sigma)
        seen["input"] = scaled_x
        return (exact(x, t) - pre.c_skip(alpha, sigma) * x) / pre.c_out(alpha, sigma)

    denoiser = Denoiser(network, "x0", preconditioning=pre)
    t = torch.full((6,), 0.3, dtype=DT)
    alpha, sigma = schedule.alpha(t[0]), schedule.sigma(t[0])
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(3), dtype=DT)
    prediction = denoiser.predict(x, t, alpha, sigma)
    torch.testing.assert_close(prediction.x0, exact(x, t), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(seen["input"], x / (sigma**2 + (alpha * 0.8) ** 2).sqrt())


def test_time_input_maps_what_the_model_sees():
    schedule = VPSDESchedule()
    seen = {}

    def model(x, condition, scale=1.0):
        seen["condition"], seen["scale"] = condition, scale
        return torch.zeros_like(x)

    denoiser = Denoiser(model, "eps", time_input=schedule.gamma)
    t = torch.full((2,), 0.25, dtype=DT)
    denoiser.predict(
        torch.ones(2, 3, dtype=DT), t, schedule.alpha(t[0]), schedule.sigma(t[0]), {"scale": 3.0}
    )
    torch.testing.assert_close(seen["condition"], schedule.gamma(t))
    assert seen["scale"] == 3.0
