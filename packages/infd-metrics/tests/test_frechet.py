"""The Fréchet distance against scipy's sqrtm and clean-fid's own function."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg

from infd_core.errors import UsageError
from infd_metrics import FeatureStatistics, frechet_distance


def _gaussian_features(seed: int, count: int, dim: int, shift: float = 0.0) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.randn(dim, dim, generator=generator, dtype=torch.float64) / dim**0.5
    samples = torch.randn(count, dim, generator=generator, dtype=torch.float64) @ mixing + shift
    return samples.numpy()


def _stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def _scipy_reference(mu1, sigma1, mu2, sigma2) -> float:
    """The textbook formula with scipy's general matrix square root of Σ₁Σ₂."""
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("dim", [1, 8, 32])
def test_matches_scipy_sqrtm_on_random_gaussians(dim: int) -> None:
    mu1, sigma1 = _stats(_gaussian_features(0, 400, dim))
    mu2, sigma2 = _stats(_gaussian_features(1, 300, dim, shift=0.3))
    ours = frechet_distance(mu1, sigma1, mu2, sigma2)
    assert ours > 0.01
    assert ours == pytest.approx(_scipy_reference(mu1, sigma1, mu2, sigma2), rel=1e-8, abs=1e-10)


@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning")
def test_matches_clean_fid_frechet_distance_on_the_same_features() -> None:
    from cleanfid.fid import frechet_distance as clean_fid_distance

    mu1, sigma1 = _stats(_gaussian_features(2, 256, 24))
    mu2, sigma2 = _stats(_gaussian_features(3, 256, 24, shift=-0.2))
    expected = float(clean_fid_distance(mu1, sigma1, mu2, sigma2))
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-7)


def test_against_itself_is_zero_and_symmetric() -> None:
    mu1, sigma1 = _stats(_gaussian_features(4, 200, 16))
    mu2, sigma2 = _stats(_gaussian_features(5, 150, 16, shift=0.5))
    assert frechet_distance(mu1, sigma1, mu1, sigma1) == pytest.approx(0.0, abs=1e-9)
    forward, backward = frechet_distance(mu1, sigma1, mu2, sigma2), frechet_distance(mu2, sigma2, mu1, sigma1)
    assert forward == pytest.approx(backward, rel=1e-10)


def test_singular_covariances_stay_real_and_match_the_closed_form() -> None:
    """Fewer samples than dimensions: both covariances are rank deficient."""
    mu1, sigma1 = _stats(_gaussian_features(6, 10, 40))
    mu2, sigma2 = _stats(_gaussian_features(7, 12, 40, shift=0.1))
    ours = frechet_distance(mu1, sigma1, mu2, sigma2)
    # tr sqrt(Σ₁Σ₂) from the eigenvalues of Σ₁Σ₂ (real and ≥ 0 for PSD matrices)
    eigenvalues = np.linalg.eigvals(sigma1 @ sigma2)
    trace_root = np.sqrt(np.clip(eigenvalues.real, 0, None)).sum()
    diff = mu1 - mu2
    expected = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_root
    assert np.isfinite(ours) and ours == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(mu1, sigma1, mu1, sigma1) == pytest.approx(0.0, abs=1e-8)


def test_diagonal_gaussians_have_a_closed_form() -> None:
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(var1) - np.sqrt(var2)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, rel=1e-12)


def test_accepts_tensors_and_statistics_objects() -> None:
    features = _gaussian_features(8, 100, 6)
    stats = FeatureStatistics.from_features(torch.from_numpy(features).float())
    mu, sigma = _stats(features)
    assert stats.mean.dtype == np.float64
    np.testing.assert_allclose(stats.covariance, sigma, rtol=1e-5, atol=1e-6)
    value = frechet_distance(torch.from_numpy(mu), torch.from_numpy(sigma), stats.mean, stats.covariance)
    assert value == pytest.approx(0.0, abs=1e-6)


def test_mismatched_or_non_finite_statistics_are_usage_errors() -> None:
    mu, sigma = _stats(_gaussian_features(9, 50, 4))
    with pytest.raises(UsageError, match="do not match"):
        frechet_distance(mu, sigma, mu[:3], sigma[:3, :3])
    with pytest.raises(UsageError, match="non-finite"):
        frechet_distance(mu * np.nan, sigma, mu, sigma)
