"""Orthogonal bases in which GUD diffuses (pixel, PCA, real orthonormal FFT, multi-level Haar).

A basis maps images ``(..., H, W)`` to components ``(..., D)`` with D = H·W through an orthogonal matrix U
(``to_components(x) = U x``, ``from_components(c) = Uᵀ c``); the same U acts on every colour channel.
"""

from infd_measures.bases.base import Basis
from infd_measures.bases.fft import FFTBasis
from infd_measures.bases.haar import HaarBasis
from infd_measures.bases.pca import PCABasis
from infd_measures.bases.pixel import PixelBasis

__all__ = ["Basis", "FFTBasis", "HaarBasis", "PCABasis", "PixelBasis"]
