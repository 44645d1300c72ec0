"""Moving values between the sparse level and a fixed ``h × w`` grid (∞-Diff §4.2).

Both sides use pixel centres in the unit square: point ``(row, column)`` of an ``H × W`` grid sits at
``((row + 0.5)/H, (column + 0.5)/W)``; cell ``(i, j)`` of the ``h × w`` grid at
``((i + 0.5)/h, (j + 0.5)/w)``.
"""

from __future__ import annotations

import torch

from infd_sparse.coords import CoordinateBatch, GridWindow
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


def _axis_weights(start: int, stop: int, size: int, cells: int, device: torch.device) -> torch.Tensor:
    """``[stop − start, cells]`` float64: the 1-D bilinear weights of pixels ``start..stop`` of an axis of
    ``size`` pixels onto ``cells`` cells (the same convention and clamping as :func:`_bilinear_corners`,
    whose 2-D weights are the product of two of these)."""
    g = (torch.arange(start, stop, dtype=torch.float64, device=device) + 0.5) / size * cells - 0.5
    low = g.floor()
    frac = g - low
    low = low.long()
    weights = torch.zeros(stop - start, cells, dtype=torch.float64, device=device)
    rows = torch.arange(stop - start, device=device)
    weights.index_put_((rows, low.clamp(0, cells - 1)), 1 - frac, accumulate=True)
    weights.index_put_((rows, (low + 1).clamp(0, cells - 1)), frac, accumulate=True)
    return weights


def _window_weights(points: GridWindow, h: int, w: int, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    top, bottom, left, right = points.rect
    height, width = points.grid
    rows = _axis_weights(top, bottom, height, h, points.device).to(dtype)
    cols = _axis_weights(left, right, width, w, points.device).to(dtype)
    return rows, cols


def bilinear_splat_sums(
    values: torch.Tensor, points: CoordinateBatch, grid_size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Σ w v [B·h·w, C], Σ w [B·h·w])``: bilinear splatting as sums, which add up over chunks of points.

    Chunked evaluation (:class:`infd_sparse.evaluation.GridTiles`) reduces both over all chunks, then
    :func:`normalise_splat` divides once.
    """
    _check_values(values, points)
    h, w = _check_grid_size(grid_size)
    channels = values.shape[1]
    if isinstance(points, GridWindow):  # separable: two small matrix products per sample
        rows, cols = _window_weights(points, h, w, values.dtype)
        image = values.view(points.batch_size, points.height, points.width, channels)
        sums = torch.einsum("yi,byxc,xj->bijc", rows, image, cols).reshape(-1, channels)
        mass = (rows.sum(0)[:, None] * cols.sum(0)[None, :]).reshape(-1).repeat(points.batch_size)
        return sums, mass
    cells, weights = _bilinear_corners(points, h, w)
    weights = weights.to(values.dtype)
    size = points.batch_size * h * w
    sums = values.new_zeros(size, channels).index_add_(
        0, cells.reshape(-1), (values[:, None, :] * weights[..., None]).reshape(-1, channels)
    )
    mass = values.new_zeros(size).index_add_(0, cells.reshape(-1), weights.reshape(-1))
    return sums, mass


def normalise_splat(
    sums: torch.Tensor, mass: torch.Tensor, batch_size: int, grid_size: tuple[int, int], eps: float = 1e-8
) -> torch.Tensor:
    """``[B, C, h, w]`` = Σ w v / Σ w where Σ w > eps, else 0."""
    h, w = _check_grid_size(grid_size)
    grid = torch.where(mass[:, None] > eps, sums / mass.clamp(min=eps)[:, None], torch.zeros_like(sums))
    return grid.view(batch_size, h, w, -1).permute(0, 3, 1, 2).contiguous()


def sparse_to_grid_bilinear(
    values: torch.Tensor, points: CoordinateBatch, grid_size: tuple[int, int], eps: float = 1e-8
) -> torch.Tensor:
    """``[B, C, h, w]``: bilinear splatting normalised by the splatted weight (0 where it is ~0)."""
    sums, mass = bilinear_splat_sums(values, points, grid_size)
    return normalise_splat(sums, mass, points.batch_size, grid_size, eps)


def grid_to_sparse(grid: torch.Tensor, points: CoordinateBatch) -> torch.Tensor:
    """``[N, C]``: bilinear interpolation of ``grid [B, C, h, w]`` at the points (borders clamped)."""
    if grid.dim() != 4 or grid.shape[0] != points.batch_size:
        raise SparseInputError(f"grid must have shape [{points.batch_size}, C, h, w], got {list(grid.shape)}")
    if grid.device != points.device:
        raise SparseInputError(f"grid on {grid.device} but coordinates on {points.device}")
    channels, h, w = grid.shape[1:]
    if isinstance(points, GridWindow):  # separable: two small matrix products per sample
        rows, cols = _window_weights(points, h, w, grid.dtype)
        return torch.einsum("yi,bcij,xj->byxc", rows, grid, cols).reshape(-1, channels)
    cells, weights = _bilinear_corners(points, h, w)
    flat = grid.permute(0, 2, 3, 1).reshape(-1, channels)
    return (flat[cells] * weights.to(grid.dtype)[..., None]).sum(1)
