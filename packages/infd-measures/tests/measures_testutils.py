"""Helpers shared by the infd-measures tests."""

from __future__ import annotations

import torch


def make_generator(seed: int = 0) -> torch.Generator:
    """A CPU generator with a fixed seed (tests never use the global RNG)."""
    return torch.Generator().manual_seed(seed)


def standard_errors(cov: torch.Tensor, n: int) -> torch.Tensor:
    """Standard errors of sample-covariance entries of n Gaussian draws: sqrt((K_ii K_jj + K_ij²)/n)."""
    diag = cov.diagonal()
    return ((diag[:, None] * diag[None, :] + cov**2) / n).sqrt()


def sample_covariance(samples: torch.Tensor) -> torch.Tensor:
    """Covariance of zero-mean draws (n, M) about the known mean 0."""
    return samples.T @ samples / samples.shape[0]
