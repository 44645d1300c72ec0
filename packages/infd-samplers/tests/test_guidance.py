"""Guidance: reconstruction guidance and DPS pull samples to the observation; replacement conditioning on
a GP prior matches GP regression's posterior mean (sklearn as the reference)."""

from __future__ import annotations

import math

import pytest
import torch
from samplers_testutils import COV3, DT, MEAN3, GaussianDenoiser, sample_gaussian

from infd_measures import DiscreteSchedule, GaussianProcess, StationaryKernel
from infd_measures.schedules import VPSDESchedule
from infd_samplers import (
    ReplacementConditioning,
    ddim,
    ddpm,
    measure_noise,
    posterior_sampling,
    probability_flow,
    reconstruction_guidance,
)

SCHEDULE = DiscreteSchedule.linear(250, 4e-4, 0.08)


def _start(count=2000):
    denoiser = GaussianDenoiser(MEAN3, COV3, SCHEDULE)
    mean, cov = denoiser.marginal(250)
    return denoiser, sample_gaussian(mean, cov, count, torch.Generator().manual_seed(0))


def test_reconstruction_guidance_pulls_the_masked_region_to_the_observation():
    denoiser, x = _start()
    mask = torch.tensor([True, False, False])
    observation = torch.tensor([2.0, 0.0, 0.0], dtype=DT)
    guide = reconstruction_guidance(mask, observation, 0.5)
    free = ddpm(denoiser, x, SCHEDULE, 250, generator=torch.Generator().manual_seed(1))
    out = ddpm(denoiser, x, SCHEDULE, 250, generator=torch.Generator().manual_seed(1), guidance=guide)
    assert abs(float(free[:, 0].mean()) - 0.5) < 0.1  # unguided: the data mean
    assert abs(float(out[:, 0].mean()) - 2.0) < 0.02 and float(out[:, 0].std()) < 0.05
    conditional = MEAN3[1:] + COV3[1:, 0] / COV3[0, 0] * (2.0 - MEAN3[0])  # correlated entries follow
    assert ((out[:, 1:].mean(0) - conditional).abs() < 0.25).all()
    assert ((free[:, 1:].mean(0) - conditional).abs() > 0.4).any()


def test_reconstruction_guidance_with_a_mollifier_and_the_ode():
    """The observation enters as T x̄; with T = 2·I the masked entry goes to 2 x̄."""
    schedule = VPSDESchedule()
    denoiser = GaussianDenoiser(MEAN3, COV3, schedule)
    x = torch.randn(500, 3, generator=torch.Generator().manual_seed(4), dtype=DT)
    guide = reconstruction_guidance(
        torch.tensor([False, True, False]),
        torch.tensor([0.0, 0.5, 0.0], dtype=DT),
        0.5,
        mollify=lambda v: 2.0 * v,
    )
    out = probability_flow(denoiser, x, schedule, 200, solver="euler", guidance=guide)
    assert abs(float(out[:, 1].mean()) - 1.0) < 0.05


def test_posterior_sampling_with_a_differentiable_loss():
    denoiser, x = _start()
    guide = posterior_sampling(lambda x0: (x0[:, 2] + 1.0) ** 2, 0.1)
    out = ddpm(denoiser, x, SCHEDULE, 250, generator=torch.Generator().manual_seed(1), guidance=guide)
    assert abs(float(out[:, 2].mean()) + 1.0) < 0.05 and float(out[:, 2].std()) < 0.2
    assert float(out[:, 0].mean()) > 1.0  # positively coupled to the pulled entry through Σ₀₂ < 0


def _gp_problem(size=32):
    coords = ((torch.arange(size, dtype=DT) + 0.5) / size).unsqueeze(-1)
    data_kernel = StationaryKernel("rbf", 1.0, 0.1)
    data_cov = data_kernel.matrix(coords) + 1e-6 * torch.eye(size, dtype=DT)
    noise = GaussianProcess(StationaryKernel("matern12", 1.0, 0.1))  # function-space diffusion's noise
    observed = torch.zeros(size, dtype=torch.bool)
    observed[1::2] = True
    values = torch.sin(2 * math.pi * coords[:, 0])
    return coords, data_cov, noise, observed, values


def test_replacement_conditioning_matches_gp_regression():
    """Data ~ GP(0, RBF ℓ = 0.1), GP noise (exponential kernel), every other point observed: the sample mean
    at the free points is within 0.1 of sklearn's posterior mean (range ±1; replacement is approximate)."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF

    coords, data_cov, noise, observed, values = _gp_problem()
    schedule = DiscreteSchedule.linear(200, 5e-4, 0.1)
    denoiser = GaussianDenoiser(
        torch.zeros(32, dtype=DT), data_cov, schedule, noise_cov=noise.covariance(coords)
    )
    draw_noise = measure_noise(noise, coords)
    gen = torch.Generator().manual_seed(0)
    x = draw_noise(torch.empty(2000, 32, 1, dtype=DT), gen)
    guide = ReplacementConditioning(observed.unsqueeze(-1), values.unsqueeze(-1))
    out = ddpm(denoiser, x, schedule, 200, generator=gen, noise=draw_noise, guidance=guide)[..., 0]

    regressor = GaussianProcessRegressor(RBF(0.1, "fixed"), alpha=1e-6, optimizer=None)
    regressor.fit(coords[observed].numpy(), values[observed].numpy())
    posterior = torch.as_tensor(regressor.predict(coords[~observed].numpy()), dtype=DT)
    assert torch.equal(out[:, observed], values[observed].expand(2000, -1))  # last step: 1·y + 0·n = y
    error = (out[:, ~observed].mean(0) - posterior).abs()
    assert float(error.max()) < 0.1, error
    unconditioned = ddpm(
        denoiser, x, schedule, 200, generator=torch.Generator().manual_seed(1), noise=draw_noise
    )
    assert float((unconditioned[:, ~observed, 0].mean(0) - posterior).abs().max()) > 0.5


def test_free_steps_release_the_conditioning():
    coords, data_cov, noise, observed, values = _gp_problem(size=8)
    schedule = DiscreteSchedule.linear(50, 2e-3, 0.4)
    denoiser = GaussianDenoiser(
        torch.zeros(8, dtype=DT), data_cov, schedule, noise_cov=noise.covariance(coords)
    )
    draw_noise = measure_noise(noise, coords)
    x = draw_noise(torch.empty(16, 8, 1, dtype=DT), torch.Generator().manual_seed(0))
    mask, obs = observed.unsqueeze(-1), values.unsqueeze(-1)

    def run(guidance):
        return ddpm(
            denoiser,
            x,
            schedule,
            50,
            generator=torch.Generator().manual_seed(1),
            noise=draw_noise,
            guidance=guidance,
        )

    # every step free: the guidance hands back x_next untouched, so the computation is the same
    assert torch.equal(run(ReplacementConditioning(mask, obs, free_steps=50)), run(None))
    soft = run(ReplacementConditioning(mask, obs, free_steps=10))
    assert not torch.equal(soft[:, observed], obs[observed].expand(16, -1, -1))


@pytest.mark.parametrize("sampler", [ddim, ddpm])
def test_guidance_lists_apply_in_order(sampler):
    denoiser, x = _start(count=64)
    first = ReplacementConditioning(
        torch.tensor([True, False, False]), torch.tensor([3.0, 0.0, 0.0], dtype=DT)
    )
    second = ReplacementConditioning(
        torch.tensor([True, False, False]), torch.tensor([-3.0, 0.0, 0.0], dtype=DT)
    )
    out = sampler(
        denoiser, x, SCHEDULE, 50, generator=torch.Generator().manual_seed(0), guidance=[first, second]
    )
    torch.testing.assert_close(out[:, 0], torch.full((64,), -3.0, dtype=DT))
