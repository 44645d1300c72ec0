"""Randomness comes only from the explicit generator(s): same seed, same samples; per-sample generators
make a batch sampled in two halves equal to the batch sampled at once — bit for bit here, because the
samplers' arithmetic is elementwise and the exact Gaussian denoiser computes each row without a BLAS
product (whose rounding depends on the batch size on some CPUs)."""

from __future__ import annotations

import functools

import pytest
import torch
from samplers_testutils import COV3, DT, MEAN3, GaussianDenoiser

from infd_measures import DiscreteSchedule, GaussianMollifier, VPSDESchedule
from infd_samplers import (
    ddim,
    ddpm,
    mollified_noise,
    ode_log_likelihood,
    reverse_sde,
    sample_batch,
    sample_generators,
)

DISCRETE = DiscreteSchedule.linear(100, 1e-3, 0.2)
CONTINUOUS = VPSDESchedule()
SAMPLERS = {
    "ddpm": (ddpm, DISCRETE),
    "ddim-eta1": (functools.partial(ddim, eta=1.0), DISCRETE),
    "reverse-sde": (reverse_sde, CONTINUOUS),
}


@pytest.mark.parametrize("name", SAMPLERS)
def test_same_seed_same_samples(name):
    sampler, schedule = SAMPLERS[name]
    denoiser = GaussianDenoiser(MEAN3, COV3, schedule)
    x = torch.randn(10, 3, generator=torch.Generator().manual_seed(0), dtype=DT)
    a = sampler(denoiser, x, schedule, 50, generator=torch.Generator().manual_seed(7))
    b = sampler(denoiser, x, schedule, 50, generator=torch.Generator().manual_seed(7))
    c = sampler(denoiser, x, schedule, 50, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)  # the same computation twice
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", SAMPLERS)
def test_two_halves_equal_the_whole_batch(name):
    sampler, schedule = SAMPLERS[name]
    denoiser = GaussianDenoiser(MEAN3, COV3, schedule)
    run = functools.partial(
        sample_batch, sampler, denoiser, schedule, 50, seed=123, sample_shape=(3,), dtype=DT
    )
    whole = run(indices=range(8))
    halves = torch.cat([run(indices=range(3)), run(indices=range(3, 8))])
    assert torch.equal(whole, halves)
    assert not torch.equal(whole[:4], run(indices=range(4, 8)))


def test_per_sample_generators_with_mollified_noise():
    mollifier = GaussianMollifier(1.0, ndim=1)
    denoiser = GaussianDenoiser(
        torch.zeros(8, dtype=DT), torch.eye(8, dtype=DT), DISCRETE, noise_cov=torch.eye(8, dtype=DT)
    )
    noise = mollified_noise(mollifier)
    run = functools.partial(
        sample_batch,
        ddpm,
        denoiser,
        DISCRETE,
        20,
        seed=5,
        sample_shape=(1, 8),
        dtype=DT,
        prior_noise=noise,
        noise=noise,
    )
    assert torch.equal(run(indices=[0, 1, 2, 3]), torch.cat([run(indices=[0, 1]), run(indices=[2, 3])]))


def test_hutchinson_probes_per_sample():
    denoiser = GaussianDenoiser(MEAN3, COV3, CONTINUOUS)
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), dtype=DT)

    def loglik(rows):
        generators = sample_generators(9, rows)
        return ode_log_likelihood(denoiser, x[rows], CONTINUOUS, 50, solver="heun", generator=generators).nats

    torch.testing.assert_close(loglik(list(range(6))), torch.cat([loglik([0, 1]), loglik([2, 3, 4, 5])]))
