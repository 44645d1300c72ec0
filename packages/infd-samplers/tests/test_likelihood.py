"""ODE log-likelihood of Gaussian data against torch's MultivariateNormal log_prob (within 1%)."""

from __future__ import annotations

import math

import pytest
import torch
from samplers_testutils import COV3, DT, MEAN3, GaussianDenoiser, gaussian_log_prob, sample_gaussian

from infd_measures import CosineSchedule, VPSDESchedule
from infd_samplers import bin_width_of, bits_per_dim, dequantise, ode_log_likelihood


def _data(count=40, seed=0):
    return sample_gaussian(MEAN3, COV3, count, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("schedule", [CosineSchedule(), VPSDESchedule()], ids=["cosine", "vp-sde"])
def test_exact_trace_matches_the_analytic_density_per_sample(schedule):
    x = _data()
    result = ode_log_likelihood(
        GaussianDenoiser(MEAN3, COV3, schedule), x, schedule, probe="exact", rtol=1e-6, atol=1e-6
    )
    reference = gaussian_log_prob(x, MEAN3, COV3)
    assert ((result.nats - reference).abs() <= 0.01 * reference.abs()).all()
    torch.testing.assert_close(result.nats, result.prior_nats + result.divergence_nats)
    torch.testing.assert_close(result.bits_per_dim, -result.nats / (3 * math.log(2.0)))


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_hutchinson_estimate_matches_on_average(probe):
    schedule = CosineSchedule()
    x = _data(count=400, seed=1)
    result = ode_log_likelihood(
        GaussianDenoiser(MEAN3, COV3, schedule),
        x,
        schedule,
        probe=probe,
        num_probes=128,
        generator=torch.Generator().manual_seed(2),
    )
    error = result.nats - gaussian_log_prob(x, MEAN3, COV3)
    reference = gaussian_log_prob(x, MEAN3, COV3).mean()
    assert abs(float(error.mean())) <= 0.01 * abs(float(reference))  # unbiased: within 1% on average
    assert abs(float(error.mean())) <= 4.0 * float(error.std()) / math.sqrt(x.shape[0])  # and within 4 SE


def test_the_solvers_agree():
    schedule = CosineSchedule()
    denoiser = GaussianDenoiser(MEAN3, COV3, schedule)
    x = _data(count=16, seed=3)
    adaptive = ode_log_likelihood(denoiser, x, schedule, probe="exact", solver="rk45", rtol=1e-7, atol=1e-7)
    for solver, steps in [("rk4", 200), ("heun", 400)]:
        fixed = ode_log_likelihood(denoiser, x, schedule, steps, probe="exact", solver=solver)
        assert ((fixed.nats - adaptive.nats).abs() <= 0.01 * adaptive.nats.abs()).all(), solver


def test_bits_per_dim_with_uniform_dequantisation():
    """A density uniform on [-1, 1]^D gives every 8-bit image probability 256^-D: 8 bits/dim."""
    dims = 5
    nats = torch.tensor([-dims * math.log(2.0)])
    width = bin_width_of(256, -1.0, 1.0)
    torch.testing.assert_close(bits_per_dim(nats, dims, width), torch.tensor([8.0]))
    values = torch.randint(0, 256, (4, dims), generator=torch.Generator().manual_seed(0))
    x = dequantise(values, torch.Generator().manual_seed(1), dtype=DT)
    assert bool(((x + 1.0) / width).floor().eq(values).all())
    assert float(x.min()) >= -1.0 and float(x.max()) < 1.0
