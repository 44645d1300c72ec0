"""Probability-flow ODE and reverse SDE on continuous schedules, scalar and GUD per-component, against the
closed-form marginal of Gaussian data at the final time (every mean/covariance entry within 5 standard
errors + 0.02 for the time discretisation; Euler–Maruyama with 1000 steps: + 0.03), and pointwise against
the closed-form probability-flow map (rk45: 1e-6, Heun 200 steps: 1e-3, DDIM 1000 steps: 2e-2)."""

from __future__ import annotations

import pytest
import torch
from samplers_testutils import COV3, DT, MEAN3, GaussianDenoiser, assert_moments, sample_gaussian

from infd_measures import VPSDESchedule, linear_soft_schedule
from infd_samplers import ddim, probability_flow, probability_flow_encode, reverse_sde

COUNT = 6000
MEAN4 = torch.tensor([1.0, -0.5, 0.0, 0.3], dtype=DT)
COV4 = torch.tensor(
    [[2.0, 0.3, 0.0, 0.1], [0.3, 1.0, 0.2, 0.0], [0.0, 0.2, 0.5, 0.05], [0.1, 0.0, 0.05, 0.2]], dtype=DT
)


def _run(sampler, denoiser, start, end, shape=(3,), count=COUNT, **kwargs):
    mean, cov = denoiser.marginal(torch.tensor(start, dtype=DT))
    x = sample_gaussian(mean, cov, count, torch.Generator().manual_seed(0)).reshape(count, *shape)
    grid = torch.linspace(start, end, kwargs.pop("steps", 200) + 1, dtype=DT)
    out = sampler(denoiser, x, denoiser.schedule, grid, **kwargs)
    target_mean, target_cov = denoiser.marginal(torch.tensor(end, dtype=DT))
    return out, target_mean, target_cov


@pytest.mark.parametrize(("solver", "steps"), [("euler", 400), ("heun", 100), ("rk4", 50), ("rk45", 10)])
def test_probability_flow_solvers_reproduce_gaussian_data(solver, steps):
    denoiser = GaussianDenoiser(MEAN3, COV3, VPSDESchedule())
    out, mean, cov = _run(probability_flow, denoiser, 1.0, 1e-3, solver=solver, steps=steps)
    assert_moments(out, mean, cov, bias=0.02)


def _closed_form_flow(denoiser, x, t, s):
    """The probability-flow map of Gaussian data when the marginal covariances commute (scalar schedule,
    or per-component schedule with diagonal Σ): x_s = α_s μ + S_s^½ S_t^-½ (x_t - α_t μ)."""

    def root(matrix, power):
        values, vectors = torch.linalg.eigh(matrix)
        return vectors @ torch.diag(values**power) @ vectors.T

    mean_t, cov_t = denoiser.marginal(torch.tensor(t, dtype=DT))
    mean_s, cov_s = denoiser.marginal(torch.tensor(s, dtype=DT))
    flat = x.flatten(1)
    return (mean_s + (flat - mean_t) @ (root(cov_s, 0.5) @ root(cov_t, -0.5)).T).reshape(x.shape)


@pytest.mark.parametrize("per_component", [False, True])
def test_probability_flow_matches_the_closed_form_flow(per_component):
    if per_component:
        cov = torch.diag(torch.diagonal(COV4))
        schedule = linear_soft_schedule(torch.diagonal(COV4).log(), softness=1.0)
        denoiser, shape, end = GaussianDenoiser(MEAN4, cov, schedule), (2, 2), 0.0
    else:
        denoiser, shape, end = GaussianDenoiser(MEAN3, COV3, VPSDESchedule()), (3,), 1e-3
    x = torch.randn(64, *shape, generator=torch.Generator().manual_seed(6), dtype=DT)
    exact = _closed_form_flow(denoiser, x, 1.0, end)
    schedule = denoiser.schedule
    adaptive = probability_flow(denoiser, x, schedule, 10, solver="rk45", rtol=1e-8, atol=1e-8, t_end=end)
    torch.testing.assert_close(adaptive, exact, rtol=0, atol=1e-6)
    heun = probability_flow(denoiser, x, schedule, 200, solver="heun", t_end=end)
    torch.testing.assert_close(heun, exact, rtol=0, atol=1e-3)
    first_order = ddim(denoiser, x, schedule, 1000, t_end=end)  # DDIM η = 0: a first-order integrator
    torch.testing.assert_close(first_order, exact, rtol=0, atol=2e-2)


def test_fixed_and_adaptive_solvers_agree_pointwise():
    denoiser = GaussianDenoiser(MEAN3, COV3, VPSDESchedule())
    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(5), dtype=DT)
    schedule = denoiser.schedule
    reference = probability_flow(denoiser, x, schedule, 10, solver="rk45", rtol=1e-8, atol=1e-8)
    for solver, steps, tol in [("rk4", 100, 1e-4), ("heun", 200, 5e-3), ("euler", 1000, 5e-2)]:
        out = probability_flow(denoiser, x, schedule, steps, solver=solver)
        torch.testing.assert_close(out, reference, rtol=0, atol=tol)


def test_reverse_sde_reproduces_gaussian_data():
    denoiser = GaussianDenoiser(MEAN3, COV3, VPSDESchedule())
    out, mean, cov = _run(
        reverse_sde, denoiser, 1.0, 1e-3, steps=1000, generator=torch.Generator().manual_seed(1)
    )
    assert_moments(out, mean, cov, bias=0.03)


def _gud_denoiser():
    """GUD linear soft-conditioning schedule, one γ_i(t) per component, state (B, 2, 2) with D = 4."""
    schedule = linear_soft_schedule(torch.diagonal(COV4).log(), softness=1.0)
    return GaussianDenoiser(MEAN4, COV4, schedule)


@pytest.mark.parametrize(
    ("sampler", "kwargs"),
    [
        (ddim, {"steps": 200}),
        (probability_flow, {"steps": 100, "solver": "heun"}),
        (reverse_sde, {"steps": 1000, "generator": torch.Generator().manual_seed(2)}),
    ],
)
def test_per_component_schedules(sampler, kwargs):
    denoiser = _gud_denoiser()
    out, mean, cov = _run(sampler, denoiser, 1.0, 0.0, shape=(2, 2), **kwargs)
    assert out.shape == (COUNT, 2, 2)
    assert_moments(out, mean, cov, bias=0.03)


def test_encode_with_the_ode_then_decode_with_ddim():
    """DDIM with η = 0 is the probability-flow ODE's first-order integrator: decoding an ODE encoding
    returns the data up to solver error."""
    denoiser = GaussianDenoiser(MEAN3, COV3, VPSDESchedule())
    x0 = sample_gaussian(MEAN3, COV3, 64, torch.Generator().manual_seed(3))
    grid = torch.linspace(1e-3, 1.0, 501, dtype=DT)
    encoded = probability_flow_encode(denoiser, x0, denoiser.schedule, grid, solver="rk4")
    decoded = ddim(denoiser, encoded, denoiser.schedule, grid.flip(0))
    torch.testing.assert_close(decoded, x0, rtol=0, atol=0.02)
    back = probability_flow(denoiser, encoded, denoiser.schedule, grid.flip(0), solver="rk4")
    torch.testing.assert_close(back, x0, rtol=0, atol=1e-5)
