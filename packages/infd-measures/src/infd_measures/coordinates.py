"""Coordinate conventions: points of the unit cube [0, 1]^d, d = 1 or 2, as tensors ``(..., M, d)``.

The axis order of a coordinate follows the array axes: ``(y, x)`` = (row, column) for images. A regular
grid of shape ``(n_1, ..., n_d)`` has its pixel centres at ``(i + 0.5)/n`` per axis. Values on points are
channels-last ``(..., M, C)``; values on grids are channels-first ``(..., C, *shape)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from infd_measures.errors import ParameterError


def check_grid_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """A grid shape of one or two positive ints."""
    try:
        dims = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ParameterError(f"grid shape must be a sequence of 1 or 2 ints, got {shape!r}") from None
    if len(dims) not in (1, 2) or any(s < 1 for s in dims):
        raise ParameterError(f"grid shape must hold 1 or 2 positive sizes, got {shape!r}")
    return dims


def grid_coordinates(
    shape: Sequence[int], dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """Pixel centres of a regular grid, row-major: ``(prod(shape), len(shape))``."""
    dims = check_grid_shape(shape)
    axes = [(torch.arange(n, dtype=torch.float64, device=device) + 0.5) / n for n in dims]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=-1).to(dtype)


def grid_to_points(values: torch.Tensor, ndim: int = 2) -> torch.Tensor:
    """``(..., C, *shape)`` grid values to ``(..., M, C)`` point values in row-major order."""
    return values.flatten(-ndim).transpose(-1, -2)


def points_to_grid(values: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """``(..., M, C)`` point values on the full grid (row-major) back to ``(..., C, *shape)``."""
    dims = check_grid_shape(shape)
    return values.transpose(-1, -2).unflatten(-1, dims)


__all__ = ["check_grid_shape", "grid_coordinates", "grid_to_points", "points_to_grid"]
