"""Closed-form references for the sampler tests: exact denoisers of Gaussian data.

Data x₀ ~ N(μ, Σ) on D components (the state's non-batch entries, flattened), noise n ~ N(0, C) (white by
default), x_t = α ⊙ x₀ + σ ⊙ n with scalar or per-component α(t), σ(t) read from the schedule. Then
x_t ~ N(α μ, A Σ A + S C S) (A = diag α, S = diag σ) and, with r = x_t - α μ and w = (AΣA + SCS)⁻¹ r,
E[x₀ | x_t] = μ + Σ A w, E[n | x_t] = C S w and ∇ log p_t(x_t) = -w.
"""

from __future__ import annotations

import math

import torch

from infd_measures.discrete import DiscreteSchedule

DT = torch.float64


def _rows_times(rows: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """rows @ matrix as a sum of rank-one terms in a fixed order (elementwise ops only), so that a row's
    result has the same bits in any batch: a BLAS matmul's rounding depends on the number of rows on some
    CPUs (MKL picks its kernel by shape), which made a batch differ from its halves."""
    out = rows[:, :1] * matrix[0]
    for k in range(1, matrix.shape[0]):
        out = out + rows[:, k : k + 1] * matrix[k]
    return out


class GaussianDenoiser:
    """The exact denoiser D(x_t, t) of N(mean, cov) data for ``schedule`` in the given parameterisation."""

    def __init__(self, mean, cov, schedule, parameterisation="eps", noise_cov=None):
        self.mean = torch.as_tensor(mean, dtype=DT)
        self.cov = torch.as_tensor(cov, dtype=DT)
        self.schedule = schedule
        self.parameterisation = parameterisation
        size = self.mean.numel()
        self.noise_cov = (
            torch.eye(size, dtype=DT) if noise_cov is None else torch.as_tensor(noise_cov, dtype=DT)
        )
        self.calls = 0

    def scales(self, t):
        """α and σ as D-vectors at time (or step) t."""
        size = self.mean.numel()
        alpha = torch.as_tensor(self.schedule.alpha(t), dtype=DT).expand(size)
        sigma = torch.as_tensor(self.schedule.sigma(t), dtype=DT).expand(size)
        return alpha, sigma

    def marginal(self, t):
        """Mean and covariance of x_t."""
        alpha, sigma = self.scales(t)
        cov = alpha[:, None] * self.cov * alpha[None, :] + sigma[:, None] * self.noise_cov * sigma[None, :]
        return alpha * self.mean, cov

    def __call__(self, x, t, **cond):
        self.calls += 1
        time = t[0] if isinstance(self.schedule, DiscreteSchedule) else t[0].to(DT)
        alpha, sigma = self.scales(time)
        mean_t, cov_t = self.marginal(time)
        flat = x.flatten(1).to(DT)
        w = _rows_times(flat - mean_t, torch.linalg.inv(cov_t))
        x0 = self.mean + _rows_times(w, alpha[:, None] * self.cov)
        noise = _rows_times(w, sigma[:, None] * self.noise_cov)
        out = {
            "eps": noise,
            "mollified_eps": noise,
            "x0": x0,
            "v": alpha * noise - sigma * x0,
            "score": -w,
        }[self.parameterisation]
        return out.to(x.dtype).reshape(x.shape)


def sample_gaussian(mean, cov, count, generator, dtype=DT):
    """``count`` draws of N(mean, cov) via Cholesky."""
    mean, cov = torch.as_tensor(mean, dtype=DT), torch.as_tensor(cov, dtype=DT)
    z = torch.randn(count, mean.numel(), generator=generator, dtype=DT)
    return (mean + z @ torch.linalg.cholesky(cov).T).to(dtype)


def assert_moments(samples, mean, cov, *, num_se=5.0, bias=0.0):
    """Sample mean and covariance within ``num_se`` standard errors (+ ``bias``) of the targets, entrywise."""
    samples = samples.flatten(1).to(DT)
    mean, cov = torch.as_tensor(mean, dtype=DT), torch.as_tensor(cov, dtype=DT)
    n = samples.shape[0]
    var = torch.diagonal(cov)
    mean_se = (var / n).sqrt()
    mean_err = (samples.mean(0) - mean).abs()
    assert bool((mean_err <= num_se * mean_se + bias).all()), f"mean error {mean_err} vs se {mean_se}"
    cov_se = ((var[:, None] * var[None, :] + cov**2) / n).sqrt()
    cov_err = (torch.cov(samples.T) - cov).abs()
    assert bool((cov_err <= num_se * cov_se + bias).all()), f"cov error\n{cov_err}\nvs se\n{cov_se}"


def gaussian_log_prob(x, mean, cov):
    """Analytic log N(x; mean, cov) per row."""
    dist = torch.distributions.MultivariateNormal(
        torch.as_tensor(mean, dtype=DT), torch.as_tensor(cov, dtype=DT)
    )
    return dist.log_prob(x.flatten(1).to(DT))


MEAN3 = torch.tensor([0.5, -1.0, 0.25], dtype=DT)
COV3 = torch.tensor([[1.0, 0.6, -0.3], [0.6, 0.8, 0.1], [-0.3, 0.1, 0.5]], dtype=DT)
LOG2 = math.log(2.0)
