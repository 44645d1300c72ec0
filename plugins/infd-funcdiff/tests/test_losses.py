from __future__ import annotations

import numpy as np
import torch

from infd_core.seeding import derive_generator
from infd_funcdiff.losses import CurveNoise
from infd_measures import GaussianProcess, StationaryKernel


def _kernel_matrix(x: np.ndarray, name: str, ell: float) -> np.ndarray:
    r = np.abs(x[:, None] - x[None, :]) / ell
    if name == "matern12":
        return np.exp(-r)
    return (1 + np.sqrt(3) * r) * np.exp(-np.sqrt(3) * r)


def test_noise_covariance_matches_the_kernel_on_irregular_points():
    g = derive_generator(0, "pts")
    coords = [torch.rand(12, generator=g, dtype=torch.float64).sort().values for _ in range(2)]
    gp = GaussianProcess(StationaryKernel("matern32", 1.0, 0.1), jitter=1e-8)
    noise = CurveNoise(gp, coords)
    draws = torch.cat(
        [noise.sample(torch.ones(1000, dtype=torch.long), derive_generator(0, i)) for i in range(4)]
    )
    empirical = np.cov(draws.numpy().T)
    expected = _kernel_matrix(coords[1].numpy(), "matern32", 0.1)
    # entrywise standard error of a covariance estimate is at most sqrt(2/n) for unit variances
    assert np.abs(empirical - expected).max() < 5 * np.sqrt(2 / 4000)


def test_l2_spectral_and_sobolev_losses_against_dense_linear_algebra():
    x = torch.linspace(0, 1, 20, dtype=torch.float64)
    gp = GaussianProcess(StationaryKernel("matern12", 1.0, 0.1), jitter=1e-8)
    noise = CurveNoise(gp, [x, x], eigen=True)
    d = torch.randn(3, 20, generator=derive_generator(1), dtype=torch.float64)
    idx = torch.zeros(3, dtype=torch.long)
    c = _kernel_matrix(x.numpy(), "matern12", 0.1) + 1e-8 * np.eye(20)
    dn = d.numpy()
    discrete = 0.5 * np.einsum("bi,ij,bj->b", dn, np.linalg.inv(c), dn)
    np.testing.assert_allclose(noise.loss("l2", d, idx).numpy(), discrete, rtol=1e-6)
    # all eigenpairs: the spectral sum equals the discrete form; fewer terms give less
    np.testing.assert_allclose(noise.loss("spectral", d, idx, n_terms=20).numpy(), discrete, rtol=1e-6)
    assert (noise.loss("spectral", d, idx, n_terms=5).numpy() < discrete).all()
    vals, vecs = np.linalg.eigh(c)
    w = (vecs @ np.diag(np.maximum(vals, 1e-5) ** -0.5) @ vecs.T @ dn.T).T
    dx = np.diff(x.numpy())
    h1 = (0.5 * (w[:, 1:] ** 2 + w[:, :-1] ** 2) * dx).sum(1) + (np.diff(w, axis=1) ** 2 / dx).sum(1)
    np.testing.assert_allclose(noise.loss("sobolev", d, idx).numpy(), 0.5 * h1, rtol=1e-6)
