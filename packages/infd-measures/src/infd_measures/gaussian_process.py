"""Gaussian-process noise N(0, k) at arbitrary 1-D or 2-D coordinates (function-space diffusion).

At arbitrary points the draw is ``L z`` with L the Cholesky factor of ``K + jitter·v·I`` (jitter relative
to the kernel variance v, raised tenfold up to 1e-2 if the factorisation fails), cached per coordinate set
(LRU). On regular grids the ``spectral`` method samples exactly by circulant embedding (Dietrich & Newsam
1997): the covariance is embedded in a periodic grid of at least twice the size, whose FFT eigenvalues give
the draw; the embedding grows until they are non-negative (else tiny negative ones are clipped, logged).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Literal

import torch

from infd_core import draws
from infd_measures._checks import check_coords, check_positive
from infd_measures.coordinates import check_grid_shape, grid_coordinates
from infd_measures.errors import ParameterError
from infd_measures.kernels import StationaryKernel
from infd_measures.measures import GaussianMeasure, _check_channels
from infd_measures.norms import l2_squared_norm, sobolev_h1_squared_norm

logger = logging.getLogger(__name__)

GridMethod = Literal["spectral", "cholesky"]
NormName = Literal["l2", "sobolev"]


class GaussianProcess(GaussianMeasure):
    """A centred GP with a stationary kernel; the loss norm is ``l2`` or ``sobolev`` (H¹, 1-D only)."""

    def __init__(
        self,
        kernel: StationaryKernel,
        *,
        jitter: float = 1e-8,
        grid_method: GridMethod = "spectral",
        norm: NormName = "l2",
        cache_size: int = 8,
        max_embedding_factor: int = 16,
    ) -> None:
        self.kernel = kernel
        self.jitter = check_positive("jitter", jitter, allow_zero=True)
        if grid_method not in ("spectral", "cholesky"):
            raise ParameterError(f"grid_method must be 'spectral' or 'cholesky', got {grid_method!r}")
        if norm not in ("l2", "sobolev"):
            raise ParameterError(f"norm must be 'l2' or 'sobolev', got {norm!r}")
        self.grid_method: GridMethod = grid_method
        self.norm: NormName = norm
        self.cache_size = max(int(cache_size), 1)
        self.max_embedding_factor = max(int(max_embedding_factor), 2)
        self._factors: OrderedDict[tuple[Any, ...], torch.Tensor] = OrderedDict()
        self._spectra: dict[tuple[int, ...], torch.Tensor] = {}

    # -- dense ------------------------------------------------------------------------------------------
    def covariance(self, coords: torch.Tensor) -> torch.Tensor:
        """``k(x_i, x_j) + jitter·v·δ_ij`` at ``coords (..., M, d)``."""
        coords = check_coords(coords)
        gram = self.kernel.matrix(coords.to(torch.float64))
        eye = torch.eye(coords.shape[-2], dtype=torch.float64, device=coords.device)
        return (gram + self.jitter * self.kernel.variance * eye).to(coords.dtype)

    def cholesky(self, coords: torch.Tensor) -> torch.Tensor:
        """The cached lower Cholesky factor (float64) of the covariance at one set ``coords (M, d)``."""
        coords = check_coords(coords)
        if coords.dim() != 2:
            raise ParameterError(f"cholesky takes one coordinate set (M, d), got shape {tuple(coords.shape)}")
        data = coords.detach().to("cpu", torch.float64).contiguous().numpy().tobytes()
        key = (tuple(coords.shape), str(coords.device), hashlib.sha1(data).hexdigest())
        factor = self._factors.get(key)
        if factor is None:
            factor = self._factorize(coords)
            self._factors[key] = factor
            while len(self._factors) > self.cache_size:
                self._factors.popitem(last=False)
        else:
            self._factors.move_to_end(key)
        return factor

    def _factorize(self, coords: torch.Tensor) -> torch.Tensor:
        gram = self.kernel.matrix(coords.to(torch.float64))
        eye = torch.eye(gram.shape[-1], dtype=torch.float64, device=coords.device)
        jitter = self.jitter
        while True:
            factor, info = torch.linalg.cholesky_ex(gram + jitter * self.kernel.variance * eye)
            if int(info) == 0:
                return factor
            if jitter >= 1e-2:
                raise ParameterError("the GP covariance is not positive definite even with jitter 1e-2")
            jitter = max(jitter * 10.0, 1e-10)
            logger.warning("GP Cholesky failed; retrying with relative jitter %.1e", jitter)

    def sample(self, coords: torch.Tensor, generator: torch.Generator, channels: int = 1) -> torch.Tensor:
        coords = check_coords(coords)
        channels = _check_channels(channels)
        points, dim = coords.shape[-2:]
        sets = coords.reshape(-1, points, dim)
        if sets.shape[0] > 1 and bool((sets == sets[:1]).all()):
            factors = self.cholesky(sets[0]).expand(sets.shape[0], points, points)
        else:
            factors = torch.stack([self.cholesky(s) for s in sets])
        z = torch.randn(
            sets.shape[0], points, channels, generator=generator, dtype=torch.float64, device=coords.device
        )
        return (factors @ z).to(coords.dtype).reshape(*coords.shape[:-1], channels)

    # -- regular grids ----------------------------------------------------------------------------------
    def embedding_spectrum(self, shape: Sequence[int]) -> torch.Tensor:
        """Non-negative eigenvalues λ (float64, on the periodic embedding grid) for the grid ``shape``."""
        dims = check_grid_shape(shape)
        cached = self._spectra.get(dims)
        if cached is not None:
            return cached
        sizes = [2 * n for n in dims]
        while True:
            lam = self._circulant_eigenvalues(dims, sizes)
            ok = float(lam.min()) >= -1e-10 * float(lam.max())
            if ok or any(m >= self.max_embedding_factor * n for m, n in zip(sizes, dims, strict=True)):
                break
            sizes = [2 * m for m in sizes]
        if not ok:
            logger.warning(
                "circulant embedding of %s is not PSD (min eigenvalue %.2e); clipping to 0 (approximate)",
                dims,
                float(lam.min()),
            )
        lam = lam.clamp(min=0.0)
        self._spectra[dims] = lam
        return lam

    def _circulant_eigenvalues(self, dims: tuple[int, ...], sizes: list[int]) -> torch.Tensor:
        squared = torch.zeros(sizes, dtype=torch.float64)
        for axis, (m, n) in enumerate(zip(sizes, dims, strict=True)):
            k = torch.arange(m, dtype=torch.float64)
            dist = torch.minimum(k, m - k) / n  # grid spacing 1/n on [0, 1]
            view = [1] * len(sizes)
            view[axis] = m
            squared = squared + dist.reshape(view) ** 2
        first_row = self.kernel.of_distance(squared.sqrt())
        return torch.fft.fftn(first_row).real

    def sample_grid(
        self,
        shape: Sequence[int],
        generator: torch.Generator,
        channels: int = 1,
        batch_shape: Sequence[int] = (),
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        dims = check_grid_shape(shape)
        channels = _check_channels(channels)
        if self.grid_method == "cholesky":
            coords = grid_coordinates(dims, dtype=torch.float64, device=generator.device)
            count = math.prod(batch_shape) * channels
            z = draws.randn((coords.shape[0], count), generator, dtype=torch.float64, device=coords.device)
            values = (self.cholesky(coords) @ z).T.reshape(*batch_shape, channels, *dims)
            return values.to(dtype)
        lam = self.embedding_spectrum(dims).to(generator.device)
        count = math.prod(batch_shape) * channels
        noise = torch.randn(2, count, *lam.shape, generator=generator, dtype=torch.float64, device=lam.device)
        weighted = torch.complex(noise[0], noise[1]) * (lam / lam.numel()).sqrt()
        field = torch.fft.fftn(weighted, dim=tuple(range(1, lam.dim() + 1))).real
        for axis, n in enumerate(dims, start=1):
            field = field.narrow(axis, 0, n)
        return field.reshape(*batch_shape, channels, *dims).to(dtype)

    def squared_norm(self, values: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        """L² (mean over points) or the Sobolev H¹ norm (needs 1-D ``coords``)."""
        if self.norm == "l2":
            return l2_squared_norm(values)
        if coords is None:
            raise ParameterError("the Sobolev norm needs the coordinates of the values")
        return sobolev_h1_squared_norm(values, coords)

    @classmethod
    def from_config(cls, config: Any) -> GaussianProcess:
        """Build from :class:`~infd_measures.configs.GaussianProcessConfig`."""
        kernel = StationaryKernel(config.kernel, config.variance, config.length_scale)
        return cls(kernel, jitter=config.jitter, grid_method=config.grid_method, norm=config.norm)

    def __repr__(self) -> str:
        return f"GaussianProcess({self.kernel}, grid_method={self.grid_method!r}, norm={self.norm!r})"


__all__ = ["GaussianProcess"]
