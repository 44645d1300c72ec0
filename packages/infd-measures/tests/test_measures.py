"""Gaussian measures: sample covariances against analytic kernels and T Tᵀ (20k draws, 5 standard errors)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from measures_testutils import make_generator, sample_covariance, standard_errors

from infd_measures import (
    GaussianMollifier,
    GaussianProcess,
    MollifiedNoise,
    ParameterError,
    StationaryKernel,
    WhiteNoise,
    grid_coordinates,
)
from infd_measures.configs import GaussianProcessConfig, MollifiedNoiseConfig

DRAWS = 20_000
KERNELS = ["rbf", "matern12", "matern32", "matern52"]


def _analytic(name: str, r: np.ndarray, v: float, ell: float) -> np.ndarray:
    s = r / ell
    if name == "rbf":
        return v * np.exp(-0.5 * s**2)
    if name == "matern12":
        return v * np.exp(-s)
    if name == "matern32":
        return v * (1 + math.sqrt(3) * s) * np.exp(-math.sqrt(3) * s)
    return v * (1 + math.sqrt(5) * s + 5 * s**2 / 3) * np.exp(-math.sqrt(5) * s)


def _assert_covariance(samples: torch.Tensor, expected: torch.Tensor) -> None:
    # every entry of the sample covariance within 5 standard errors of the analytic one
    ratio = (sample_covariance(samples) - expected).abs() / standard_errors(expected, samples.shape[0])
    assert ratio.max().item() < 5.0, ratio.max().item()


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("dim", [1, 2])
def test_gp_cholesky_covariance_at_scattered_points(name: str, dim: int) -> None:
    gp = GaussianProcess(StationaryKernel(name, 1.7, 0.25))
    coords = torch.rand(16, dim, generator=make_generator(dim), dtype=torch.float64)
    samples = gp.sample(coords.expand(DRAWS, 16, dim), make_generator(10 + dim))[..., 0]
    r = np.linalg.norm(coords.numpy()[:, None] - coords.numpy()[None], axis=-1)
    _assert_covariance(samples, torch.tensor(_analytic(name, r, 1.7, 0.25)))


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("shape", [(16,), (4, 4), (3, 5)])
def test_gp_spectral_covariance_on_grids(name: str, shape: tuple[int, ...]) -> None:
    gp = GaussianProcess(StationaryKernel(name, 0.8, 0.2), grid_method="spectral")
    samples = gp.sample_grid(shape, make_generator(4), batch_shape=(DRAWS,), dtype=torch.float64)
    coords = grid_coordinates(shape, dtype=torch.float64).numpy()
    r = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    _assert_covariance(samples.reshape(DRAWS, -1), torch.tensor(_analytic(name, r, 0.8, 0.2)))


def test_gp_cholesky_factor_is_cached_per_coordinate_set() -> None:
    gp = GaussianProcess(StationaryKernel("matern32", 1.0, 0.1), grid_method="cholesky")
    a = torch.rand(12, 1, generator=make_generator(), dtype=torch.float64)
    assert gp.cholesky(a) is gp.cholesky(a.clone())
    assert gp.cholesky(a) is not gp.cholesky(a + 0.01)
    grid = gp.sample_grid((3, 4), make_generator(2), channels=2, batch_shape=(5,))
    assert grid.shape == (5, 2, 3, 4)
    g1, g2 = make_generator(9), make_generator(9)
    torch.testing.assert_close(gp.sample(a, g1), gp.sample(a, g2))  # the generator decides the draw


def test_mollified_noise_has_covariance_t_tstar_on_grids() -> None:
    for boundary in ("reflect", "periodic"):
        mollifier = GaussianMollifier(1.0, boundary=boundary)
        noise = MollifiedNoise(mollifier, (6, 5))
        samples = noise.sample_grid((6, 5), make_generator(6), batch_shape=(DRAWS,), dtype=torch.float64)
        t = mollifier.matrix((6, 5))
        _assert_covariance(samples.reshape(DRAWS, -1), t @ t.T)  # Cov(T ξ) = T Tᵀ


def test_mollified_noise_at_sparse_points() -> None:
    mollifier = GaussianMollifier(2.0)
    noise = MollifiedNoise(mollifier, (7, 6))
    coords = torch.rand(10, 2, generator=make_generator(8), dtype=torch.float64)
    samples = noise.sample(coords.expand(DRAWS, 10, 2), make_generator(9))[..., 0]
    # independent reference: T applied to the white-noise basis vectors, read at the points
    n = 42
    columns = [
        mollifier.apply_at(torch.eye(n, dtype=torch.float64)[j].reshape(1, 7, 6), coords)[:, 0]
        for j in range(n)
    ]
    evaluation = torch.stack(columns, dim=1)  # (M, N)
    _assert_covariance(samples, evaluation @ evaluation.T)
    torch.testing.assert_close(noise.covariance(coords), evaluation @ evaluation.T)


def test_mollified_sample_at_pixel_centres_equals_grid_sample() -> None:
    noise = MollifiedNoise(GaussianMollifier(1.0), (8, 6))
    coords = grid_coordinates((8, 6), dtype=torch.float64)
    on_grid = noise.sample_grid((8, 6), make_generator(3), channels=3, dtype=torch.float64)
    at_points = noise.sample(coords, make_generator(3), channels=3)
    torch.testing.assert_close(at_points, on_grid.flatten(-2).T, rtol=0, atol=1e-12)
    torch.testing.assert_close(noise.mollify_at(on_grid, coords), noise.mollify(on_grid).flatten(-2).T)


def test_white_noise() -> None:
    white = WhiteNoise()
    coords = torch.rand(4, 100, 2, generator=make_generator())
    values = white.sample(coords, make_generator(1), channels=3)
    assert values.shape == (4, 100, 3)
    assert values.dtype == torch.float32
    grid = white.sample_grid((5, 6), make_generator(1), channels=2, batch_shape=(3,))
    assert grid.shape == (3, 2, 5, 6)
    torch.testing.assert_close(
        white.mollify_at(grid, grid_coordinates((5, 6))), grid.flatten(-2).transpose(-1, -2)
    )
    many = white.sample(torch.zeros(DRAWS, 3, 1), make_generator(2))[..., 0].double()
    _assert_covariance(many, torch.eye(3, dtype=torch.float64))


def test_gp_sobolev_norm_option() -> None:
    gp = GaussianProcess(StationaryKernel("matern32", 1.0, 0.1), norm="sobolev")
    x = torch.linspace(0, 1, 501, dtype=torch.float64).unsqueeze(-1)
    values = torch.sin(2 * math.pi * x)
    assert gp.squared_norm(values, x).item() == pytest.approx(0.5 + 2 * math.pi**2, rel=1e-4)
    l2 = GaussianProcess(StationaryKernel("rbf")).squared_norm(values)
    assert l2.item() == pytest.approx(0.5, rel=1e-2)


def test_bad_parameters_and_coordinates_raise() -> None:
    with pytest.raises(ParameterError, match="variance must be > 0"):
        StationaryKernel("rbf", variance=-1.0)
    with pytest.raises(ParameterError, match="length_scale must be > 0"):
        StationaryKernel("matern52", length_scale=0.0)
    with pytest.raises(ParameterError, match="unknown kernel 'cubic'"):
        StationaryKernel("cubic")
    with pytest.raises(ValueError, match="greater than 0"):
        GaussianProcessConfig(length_scale=-0.1)
    with pytest.raises(ValueError, match="greater than 0"):
        MollifiedNoiseConfig(variance=-1.0)
    gp = GaussianProcess(StationaryKernel("rbf"))
    with pytest.raises(ParameterError, match=r"1 or 2 values per point"):
        gp.sample(torch.zeros(10, 3), make_generator())
    with pytest.raises(ParameterError, match=r"shape \(\.\.\., M, d\)"):
        gp.sample(torch.zeros(10), make_generator())
    with pytest.raises(ParameterError, match="NaN or inf"):
        WhiteNoise().sample(torch.full((4, 2), float("nan")), make_generator())
    with pytest.raises(ParameterError, match="needs the noise grid"):
        MollifiedNoise(GaussianMollifier()).sample(torch.zeros(3, 2), make_generator())
    with pytest.raises(ParameterError, match="2 values per point"):
        MollifiedNoise(GaussianMollifier(), (4, 4)).sample(torch.zeros(3, 1), make_generator())
