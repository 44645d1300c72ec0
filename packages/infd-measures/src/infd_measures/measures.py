"""Gaussian measures that draw noise at arbitrary coordinates: the interface, white noise, mollified noise.

Every measure samples with an explicit ``torch.Generator``: ``sample(coords, generator, channels)`` returns
``(*coords.shape[:-1], channels)`` for coordinates ``(..., M, d)`` in [0, 1]^d, and
``sample_grid(shape, generator, channels, batch_shape)`` returns ``(*batch_shape, channels, *shape)`` on the
pixel-centre grid (see :mod:`infd_measures.coordinates`). ``mollify``/``mollify_at`` apply the measure's
mollifier T (the identity for white noise and GPs), ``covariance`` gives the dense covariance at points and
``squared_norm`` the norm used by a loss on this measure.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch

from infd_core import draws
from infd_measures._checks import check_coords
from infd_measures.coordinates import check_grid_shape, grid_coordinates
from infd_measures.errors import ParameterError
from infd_measures.mollifier import GaussianMollifier
from infd_measures.norms import l2_squared_norm


def _check_channels(channels: int) -> int:
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ParameterError(f"channels must be a positive int, got {channels!r}")
    return channels


class GaussianMeasure(ABC):
    """A centred Gaussian measure on functions over [0, 1]^d, sampled at points or on grids."""

    #: spatial dimension the measure accepts (None: 1 or 2)
    ndim: int | None = None

    @abstractmethod
    def sample(self, coords: torch.Tensor, generator: torch.Generator, channels: int = 1) -> torch.Tensor:
        """A draw at ``coords (..., M, d)``, independent across leading axes and channels: ``(..., M, C)``."""

    def sample_grid(
        self,
        shape: Sequence[int],
        generator: torch.Generator,
        channels: int = 1,
        batch_shape: Sequence[int] = (),
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """A draw on the pixel-centre grid of ``shape``: ``(*batch_shape, channels, *shape)``."""
        dims = check_grid_shape(shape)
        coords = grid_coordinates(dims, dtype=dtype, device=generator.device)
        coords = coords.expand(*batch_shape, *coords.shape)
        values = self.sample(coords, generator, channels)  # (*batch, M, C)
        return values.transpose(-1, -2).unflatten(-1, dims)

    def mollify(self, values: torch.Tensor) -> torch.Tensor:
        """T on grid values ``(..., C, *shape)``; the identity unless the measure is mollified."""
        return values

    def mollify_at(self, values: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """(T x)(c) at ``coords (..., M, d)`` for grid values ``(..., C, *shape)``: ``(..., M, C)``.

        With T = I this reads the pixel containing each point.
        """
        coords = check_coords(coords, self.ndim)
        ndim = coords.shape[-1]
        shape = values.shape[-ndim:]
        index = torch.zeros(coords.shape[:-1], dtype=torch.long, device=coords.device)
        for axis, size in enumerate(shape):
            pixel = torch.floor(coords[..., axis] * size).long().clamp(0, size - 1)
            index = index * size + pixel
        flat = values.flatten(-ndim)  # (..., C, N)
        batch = torch.broadcast_shapes(flat.shape[:-2], index.shape[:-1])
        gathered = torch.gather(
            flat.expand(*batch, *flat.shape[-2:]), -1, index.unsqueeze(-2).expand(*batch, flat.shape[-2], -1)
        )
        return gathered.transpose(-1, -2)

    @abstractmethod
    def covariance(self, coords: torch.Tensor) -> torch.Tensor:
        """The covariance matrix ``(..., M, M)`` of the measure at ``coords (..., M, d)``."""

    def squared_norm(self, values: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        """The squared norm used by losses on this measure (L² unless configured otherwise): ``(...)``."""
        return l2_squared_norm(values)


class WhiteNoise(GaussianMeasure):
    """Independent N(0, 1) values at every point (covariance I; not a measure on L², see ∞-Diff §3.1)."""

    def sample(self, coords: torch.Tensor, generator: torch.Generator, channels: int = 1) -> torch.Tensor:
        coords = check_coords(coords)
        shape = (*coords.shape[:-1], _check_channels(channels))
        return draws.randn(shape, generator, dtype=coords.dtype, device=coords.device)

    def sample_grid(
        self,
        shape: Sequence[int],
        generator: torch.Generator,
        channels: int = 1,
        batch_shape: Sequence[int] = (),
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        dims = check_grid_shape(shape)
        size = (*batch_shape, _check_channels(channels), *dims)
        return torch.randn(size, generator=generator, dtype=dtype, device=generator.device)

    def covariance(self, coords: torch.Tensor) -> torch.Tensor:
        coords = check_coords(coords)
        eye = torch.eye(coords.shape[-2], dtype=coords.dtype, device=coords.device)
        return eye.expand(*coords.shape[:-2], *eye.shape)

    @classmethod
    def from_config(cls, config: Any) -> WhiteNoise:
        """Build from :class:`~infd_measures.configs.WhiteNoiseConfig`."""
        return cls()


class MollifiedNoise(GaussianMeasure):
    """N(0, TT*): white noise on the pixel grid of ``grid_shape``, mollified by T (∞-Diff §3.1).

    ``sample(coords, ...)`` draws the white noise on the whole grid and evaluates T ξ at the points, so with
    the same generator state it equals ``sample_grid`` read at those pixel centres.
    """

    def __init__(self, mollifier: GaussianMollifier, grid_shape: Sequence[int] | None = None) -> None:
        self.mollifier = mollifier
        self.ndim = mollifier.ndim
        self.grid_shape = None if grid_shape is None else check_grid_shape(grid_shape)
        if self.grid_shape is not None and len(self.grid_shape) != self.ndim:
            raise ParameterError(
                f"grid_shape {self.grid_shape} does not match the mollifier's {self.ndim} axes"
            )

    def _shape(self, grid_shape: Sequence[int] | None) -> tuple[int, ...]:
        shape = self.grid_shape if grid_shape is None else check_grid_shape(grid_shape)
        if shape is None:
            raise ParameterError("mollified noise at points needs the noise grid: pass grid_shape")
        if len(shape) != self.ndim:
            raise ParameterError(f"grid_shape {shape} does not match the mollifier's {self.ndim} axes")
        return shape

    def sample(
        self,
        coords: torch.Tensor,
        generator: torch.Generator,
        channels: int = 1,
        grid_shape: Sequence[int] | None = None,
    ) -> torch.Tensor:
        coords = check_coords(coords, self.ndim)
        shape = self._shape(grid_shape)
        size = (*coords.shape[:-2], _check_channels(channels), *shape)
        white = draws.randn(size, generator, dtype=coords.dtype, device=coords.device)
        return self.mollifier.apply_at(white, coords)

    def sample_grid(
        self,
        shape: Sequence[int],
        generator: torch.Generator,
        channels: int = 1,
        batch_shape: Sequence[int] = (),
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        dims = self._shape(shape)
        size = (*batch_shape, _check_channels(channels), *dims)
        white = torch.randn(size, generator=generator, dtype=dtype, device=generator.device)
        return self.mollifier.apply(white)

    def mollify(self, values: torch.Tensor) -> torch.Tensor:
        return self.mollifier.apply(values)

    def mollify_at(self, values: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        return self.mollifier.apply_at(values, coords)

    def covariance(self, coords: torch.Tensor, grid_shape: Sequence[int] | None = None) -> torch.Tensor:
        """P Pᵀ with P the ``(M, N)`` matrix of T ξ ↦ (T ξ)(coords) (dense; small grids only)."""
        coords = check_coords(coords, self.ndim)
        shape = self._shape(grid_shape)
        n = 1
        for s in shape:
            n *= s
        identity = torch.eye(n, dtype=torch.float64, device=coords.device).reshape(n, *shape)
        evaluation = self.mollifier.apply_at(identity, coords.to(torch.float64))  # (..., M, N)
        return (evaluation @ evaluation.transpose(-1, -2)).to(coords.dtype)

    @classmethod
    def from_config(cls, config: Any) -> MollifiedNoise:
        """Build from :class:`~infd_measures.configs.MollifiedNoiseConfig`."""
        return cls(GaussianMollifier.from_config(config), config.grid_shape)


__all__ = ["GaussianMeasure", "MollifiedNoise", "WhiteNoise"]
