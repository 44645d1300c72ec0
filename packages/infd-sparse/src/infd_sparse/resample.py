"""Moving values between the sparse level and a fixed ``h × w`` grid (∞-Diff §4.2).

Both sides use pixel centres in the unit square: point ``(row, column)`` of an ``H × W`` grid sits at
``((row + 0.5)/H, (column + 0.5)/W)``; cell ``(i, j)`` of the ``h × w`` grid at
``((i + 0.5)/h, (j + 0.5)/w)``.
"""

from __future__ import annotations

import torch

from infd_sparse.coords import CoordinateBatch
from infd_sparse.errors import SparseInputError


def _check_values(values: torch.Tensor, points: CoordinateBatch) -> None:
    if values.dim() != 2 or values.shape[0] != points.num_points:
        raise SparseInputError(f"values must have shape [{points.num_points}, C], got {list(values.shape)}")
    if values.device != points.device:
        raise SparseInputError(f"values on {values.device} but coordinates on {points.device}")


def _check_grid_size(grid_size: tuple[int, int]) -> tuple[int, int]:
    h, w = grid_size
    if h <= 0 or w <= 0:
        raise SparseInputError(f"grid size must be positive, got {grid_size}")
    return h, w


def sparse_to_grid_mean(
    values: torch.Tensor, points: CoordinateBatch, grid_size: tuple[int, int]
) -> torch.Tensor:
    """``[B, C, h, w]``: the mean of the points falling in each cell (0 where a cell has none)."""
    _check_values(values, points)
    h, w = _check_grid_size(grid_size)
    height, width = points.grid
    rows = torch.div(points.coords[:, 0] * h, height, rounding_mode="floor")
    cols = torch.div(points.coords[:, 1] * w, width, rounding_mode="floor")
    cell = (points.batch * h + rows) * w + cols
    channels = values.shape[1]
    sums = values.new_zeros(points.batch_size * h * w, channels).index_add_(0, cell, values)
    counts = values.new_zeros(points.batch_size * h * w).index_add_(0, cell, values.new_ones(len(cell)))
    mean = sums / counts.clamp(min=1)[:, None]
    return mean.view(points.batch_size, h, w, channels).permute(0, 3, 1, 2).contiguous()


def _bilinear_corners(points: CoordinateBatch, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat cell indices ``[N, 4]`` and bilinear weights ``[N, 4]`` of each point (clamped at borders)."""
    centres = points.centres(torch.float64)
    gy = centres[:, 0] * h - 0.5
    gx = centres[:, 1] * w - 0.5
    y0, x0 = gy.floor(), gx.floor()
    fy, fx = gy - y0, gx - x0
    y0, x0 = y0.long(), x0.long()
    corners, weights = [], []
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yy = (y0 + dy).clamp(0, h - 1)
            xx = (x0 + dx).clamp(0, w - 1)
            corners.append((points.batch * h + yy) * w + xx)
            weights.append(wy * wx)
    return torch.stack(corners, 1), torch.stack(weights, 1)


def sparse_to_grid_bilinear(
    values: torch.Tensor, points: CoordinateBatch, grid_size: tuple[int, int], eps: float = 1e-8
) -> torch.Tensor:
    """``[B, C, h, w]``: bilinear splatting normalised by the splatted weight (0 where it is ~0)."""
    _check_values(values, points)
    h, w = _check_grid_size(grid_size)
    cells, weights = _bilinear_corners(points, h, w)
    weights = weights.to(values.dtype)
    channels = values.shape[1]
    size = points.batch_size * h * w
    sums = values.new_zeros(size, channels).index_add_(
        0, cells.reshape(-1), (values[:, None, :] * weights[..., None]).reshape(-1, channels)
    )
    total = values.new_zeros(size).index_add_(0, cells.reshape(-1), weights.reshape(-1))
    grid = torch.where(total[:, None] > eps, sums / total.clamp(min=eps)[:, None], torch.zeros_like(sums))
    return grid.view(points.batch_size, h, w, channels).permute(0, 3, 1, 2).contiguous()


def grid_to_sparse(grid: torch.Tensor, points: CoordinateBatch) -> torch.Tensor:
    """``[N, C]``: bilinear interpolation of ``grid [B, C, h, w]`` at the points (borders clamped)."""
    if grid.dim() != 4 or grid.shape[0] != points.batch_size:
        raise SparseInputError(f"grid must have shape [{points.batch_size}, C, h, w], got {list(grid.shape)}")
    if grid.device != points.device:
        raise SparseInputError(f"grid on {grid.device} but coordinates on {points.device}")
    channels, h, w = grid.shape[1:]
    cells, weights = _bilinear_corners(points, h, w)
    flat = grid.permute(0, 2, 3, 1).reshape(-1, channels)
    return (flat[cells] * weights.to(grid.dtype)[..., None]).sum(1)
