"""The Fréchet distance between two Gaussians, in float64 with a symmetric matrix square root.

``d² = |μ₁ − μ₂|² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½``. The last trace equals ``tr (Σ₁Σ₂)^½`` but is
computed from two symmetric eigen-decompositions, which stay real and stable when the covariances are
singular (fewer samples than feature dimensions), where a general ``sqrtm(Σ₁Σ₂)`` turns complex.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from infd_core.errors import UsageError

logger = logging.getLogger(__name__)


def _as_float64(value: Any, name: str) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().double().numpy()
    array = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise UsageError(f"{name} has non-finite values (NaN or inf features?)")
    return array


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The PSD square root of a symmetric matrix (negative rounding-error eigenvalues set to 0)."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    roots = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return (eigenvectors * roots) @ eigenvectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``tr (Σ₁Σ₂)^½`` for symmetric PSD ``Σ₁, Σ₂``, as ``tr (Σ₁^½ Σ₂ Σ₁^½)^½``."""
    root1 = _symmetric_sqrt(sigma1)
    inner = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Squared Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)`` (what FID reports).

    Accepts numpy arrays or torch tensors; everything is computed in float64. The result is clipped
    at 0 (it can only dip below through rounding).
    """
    mu1, mu2 = _as_float64(mu1, "mu1").reshape(-1), _as_float64(mu2, "mu2").reshape(-1)
    sigma1, sigma2 = (
        np.atleast_2d(_as_float64(sigma1, "sigma1")),
        np.atleast_2d(_as_float64(sigma2, "sigma2")),
    )
    dim = mu1.shape[0]
    if mu2.shape[0] != dim or sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise UsageError(
            f"statistics do not match: means {mu1.shape[0]} and {mu2.shape[0]} long, covariances "
            f"{sigma1.shape} and {sigma2.shape} (features from different extractors?)"
        )
    diff = mu1 - mu2
    distance = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    if distance < 0:
        logger.debug("Fréchet distance %.3g < 0 from rounding, reported as 0", distance)
    return max(float(distance), 0.0)
