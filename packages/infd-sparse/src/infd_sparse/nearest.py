"""K-nearest-neighbour interpolation of point values onto a fixed ``h × w`` grid (∞-Diff §4.2, App. A).

Each cell centre of the inner grid takes the inverse-squared-distance weighted mean of the values of its
``k`` nearest points of the same sample (∞-Diff: k = 3). Unlike bilinear splatting, no cell is left
empty however sparse the points are, so a model sees the same kind of grid during training (a random
subset of pixels) and sampling (every pixel). A point lying exactly on a cell centre gives that cell its
value exactly.

Distances are measured between pixel centres and cell centres in the unit square (the conventions of
:mod:`infd_sparse.resample`). The search is exact: for point subsets, windows around each cell centre
that grow until they provably hold the ``k`` nearest points (brute force for the rare cells still open
after a few rounds); for rectangles of every pixel (:class:`~infd_sparse.coords.GridWindow`, the tiles of
full-grid evaluation), the ``k`` nearest pixels lie among the ``k`` nearest rows times the ``k`` nearest
columns, so a ``2k × 2k`` window suffices.

Ties are broken by the pixel (row-major key), so the ``k`` chosen points depend on the point set only,
never on the order or the chunks it is searched in. The search is a reduction that adds up over chunks
of points (:class:`NearestValues` keeps the ``k`` nearest of two candidate sets), so tiled evaluation
(:class:`~infd_sparse.evaluation.GridTiles`) reduces it over every tile before
:func:`inverse_distance_grid` forms the grid. The result is differentiable in the values (the weights
depend on coordinates only).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from infd_sparse.coords import CoordinateBatch, GridWindow
from infd_sparse.errors import SparseInputError

#: windows grow to at most this radius (pixels) before the remaining cells are searched by brute force
MAX_WINDOW_RADIUS = 8
#: cell × point distances computed at once by the brute-force search
BRUTE_FORCE_CHUNK = 1 << 22
#: the key of a missing neighbour (after every pixel)
NO_KEY = torch.iinfo(torch.int64).max


@dataclasses.dataclass(frozen=True)
class NearestValues:
    """The ``k`` nearest points found so far for every cell of ``B`` grids of ``h × w`` cells.

    ``distance2``: ``[B·h·w, k]`` squared distances (``inf`` where fewer than ``k`` points exist);
    ``key``: ``[B·h·w, k]`` the points' pixels ``row · W + column`` (ties go to the smaller key);
    ``values``: ``[B·h·w, k, C]`` their values (0 where missing). ``a + b`` keeps the ``k`` nearest of both.
    """

    distance2: torch.Tensor
    key: torch.Tensor
    values: torch.Tensor

    def __add__(self, other: NearestValues) -> NearestValues:
        k = self.distance2.shape[1]
        distance2 = torch.cat([self.distance2, other.distance2], 1)
        key = torch.cat([self.key, other.key], 1)
        values = torch.cat([self.values, other.values], 1)
        best = _first_k(distance2, key, k)
        chosen = values.gather(1, best[..., None].expand(-1, -1, values.shape[2]))
        return NearestValues(distance2.gather(1, best), key.gather(1, best), chosen)


def _first_k(distance2: torch.Tensor, key: torch.Tensor, k: int) -> torch.Tensor:
    """Column indices ``[P, k]`` of the ``k`` smallest ``(distance2, key)`` pairs of each row, in that order.

    Two linear-time selections instead of sorting every candidate: the k-th smallest distance, then all
    nearer candidates and the smallest keys among those at exactly that distance; only the chosen ``k``
    are sorted."""
    kth = distance2.topk(k, dim=1, largest=False).values[:, -1:]
    score = torch.where(distance2 < kth, -1, torch.where(distance2 == kth, key, NO_KEY))
    chosen = score.topk(k, dim=1, largest=False).indices
    by_key = key.gather(1, chosen).argsort(dim=1, stable=True)
    chosen = chosen.gather(1, by_key)
    return chosen.gather(1, distance2.gather(1, chosen).argsort(dim=1, stable=True))


def _check(values: torch.Tensor, points: CoordinateBatch, grid_size: tuple[int, int], k: int) -> None:
    if values.dim() != 2 or values.shape[0] != points.num_points:
        raise SparseInputError(f"values must have shape [{points.num_points}, C], got {list(values.shape)}")
    if values.device != points.device:
        raise SparseInputError(f"values on {values.device} but coordinates on {points.device}")
    if min(grid_size) <= 0:
        raise SparseInputError(f"grid size must be positive, got {grid_size}")
    if k < 1:
        raise SparseInputError(f"k must be >= 1, got {k}")


def _cell_centres(size: int, cells: int, device: torch.device) -> torch.Tensor:
    """Cell centres of one axis in pixel units of an axis of ``size`` pixels (pixel i sits at i)."""
    return (torch.arange(cells, dtype=torch.float64, device=device) + 0.5) * size / cells - 0.5


def _distance2(
    rows: torch.Tensor, cols: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor, grid: tuple[int, int]
) -> torch.Tensor:
    """Squared unit-square distances ``[P, R, S]`` of pixel rows ``[P, R]`` × columns ``[P, S]`` to the
    cell centres ``(cy, cx) [P]`` (all in pixel units)."""
    dy = (rows.to(torch.float64) - cy[:, None]) / grid[0]
    dx = (cols.to(torch.float64) - cx[:, None]) / grid[1]
    return dy[:, :, None] ** 2 + dx[:, None, :] ** 2


Found = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # distance2, key, index: [P, k] each


def _keep_k(distance2: torch.Tensor, index: torch.Tensor, key: torch.Tensor, k: int) -> Found:
    """The ``k`` nearest of each row of candidates ``[P, M]`` (point ``index``, −1: none; pixel ``key``),
    padded with ``inf`` / −1 where ``M < k``."""
    missing = index < 0
    distance2 = distance2.masked_fill(missing, math.inf)
    key = key.masked_fill(missing, NO_KEY)
    if distance2.shape[1] < k:
        pad = k - distance2.shape[1]
        distance2 = torch.cat([distance2, distance2.new_full((len(distance2), pad), math.inf)], 1)
        index = torch.cat([index, index.new_full((len(index), pad), -1)], 1)
        key = torch.cat([key, key.new_full((len(key), pad), NO_KEY)], 1)
    best = _first_k(distance2, key, k)
    return distance2.gather(1, best), key.gather(1, best), index.gather(1, best)


def _window_nearest(points: GridWindow, h: int, w: int, k: int) -> Found:
    """Every pixel of a rectangle: candidates are the ``2k`` rows × ``2k`` columns around each centre."""
    top, bottom, left, right = points.rect
    device = points.device

    def axis(start: int, stop: int, size: int, cells: int) -> tuple[torch.Tensor, torch.Tensor]:
        centres = _cell_centres(size, cells, device)
        span = min(2 * k, stop - start)
        first = (centres.floor().long() - k + 1).clamp(min=start, max=stop - span)
        return centres, first[:, None] + torch.arange(span, device=device)

    cy, rows = axis(top, bottom, points.grid[0], h)  # [h], [h, R]
    cx, cols = axis(left, right, points.grid[1], w)  # [w], [w, S]
    cell_rows = torch.arange(h, device=device).repeat_interleave(w)
    cell_cols = torch.arange(w, device=device).repeat(h)
    rows, cols = rows[cell_rows], cols[cell_cols]
    distance2 = _distance2(rows, cols, cy[cell_rows], cx[cell_cols], points.grid).flatten(1)
    local = ((rows - top)[:, :, None] * points.width + (cols - left)[:, None, :]).flatten(1)
    key = (rows[:, :, None] * points.grid[1] + cols[:, None, :]).flatten(1)
    distance2, key, local = _keep_k(distance2, local, key, k)
    per_sample = points.height * points.width
    offsets = torch.arange(points.batch_size, device=device)[:, None, None] * per_sample
    index = (local[None] + offsets).reshape(-1, k)
    return distance2.repeat(points.batch_size, 1), key.repeat(points.batch_size, 1), index


def _brute_force(
    points: CoordinateBatch, cells: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor, k: int
) -> Found:
    """The ``k`` nearest points of sample ``cells // (h·w)`` to centres ``(cy, cx)``, by all distances."""
    samples = cells // (len(cy) * len(cx))
    rest = cells % (len(cy) * len(cx))
    centre_y, centre_x = cy[rest // len(cx)], cx[rest % len(cx)]
    distance2 = torch.full((len(cells), k), math.inf, dtype=torch.float64, device=cells.device)
    key = torch.full((len(cells), k), NO_KEY, dtype=torch.int64, device=cells.device)
    index = torch.full((len(cells), k), -1, dtype=torch.int64, device=cells.device)
    for sample in torch.unique(samples).tolist():
        mine = torch.nonzero(samples == sample).flatten()
        own = torch.nonzero(points.batch == sample).flatten()
        rows, cols = points.coords[own, 0], points.coords[own, 1]
        step = max(1, BRUTE_FORCE_CHUNK // max(1, len(own)))
        for start in range(0, len(mine), step):
            part = mine[start : start + step]
            dy = (rows[None].to(torch.float64) - centre_y[part, None]) / points.grid[0]
            dx = (cols[None].to(torch.float64) - centre_x[part, None]) / points.grid[1]
            own_keys = (rows * points.grid[1] + cols)[None].expand(len(part), -1)
            found = _keep_k(dy**2 + dx**2, own[None].expand(len(part), -1), own_keys, k)
            distance2[part], key[part], index[part] = found
    return distance2, key, index


def _subset_nearest(points: CoordinateBatch, h: int, w: int, k: int) -> Found:
    """Any point subset: windows around each cell centre, doubled until they hold the k nearest."""
    height, width = points.grid
    device = points.device
    occupancy = torch.full((points.batch_size, height, width), -1, dtype=torch.int64, device=device)
    occupancy[points.batch, points.coords[:, 0], points.coords[:, 1]] = torch.arange(
        points.num_points, device=device
    )
    cy, cx = _cell_centres(height, h, device), _cell_centres(width, w, device)
    total = points.batch_size * h * w
    distance2 = torch.full((total, k), math.inf, dtype=torch.float64, device=device)
    key = torch.full((total, k), NO_KEY, dtype=torch.int64, device=device)
    index = torch.full((total, k), -1, dtype=torch.int64, device=device)
    pending = torch.arange(total, device=device)
    # start where a sample of average density holds about k points: (radius − ½)² π ρ ≈ 2k
    fewest = max(1, int(points.counts().min())) if points.num_points else 1
    radius = max(1, math.ceil(math.sqrt(2 * k * height * width / (math.pi * fewest)) + 0.5))
    while pending.numel() and radius <= MAX_WINDOW_RADIUS:
        sample, rest = pending // (h * w), pending % (h * w)
        centre_y, centre_x = cy[rest // w], cx[rest % w]
        offsets = torch.arange(-radius, radius + 1, device=device)
        rows = centre_y.round().long().clamp(0, height - 1)[:, None] + offsets
        cols = centre_x.round().long().clamp(0, width - 1)[:, None] + offsets
        inside = ((rows >= 0) & (rows < height))[:, :, None] & ((cols >= 0) & (cols < width))[:, None, :]
        found = occupancy[
            sample[:, None, None], rows.clamp(0, height - 1)[:, :, None], cols.clamp(0, width - 1)[:, None, :]
        ]
        found = torch.where(inside, found, -1).flatten(1)
        d2 = _distance2(rows, cols, centre_y, centre_x, points.grid).flatten(1)
        keys = (rows[:, :, None] * width + cols[:, None, :]).flatten(1)
        d2, kk, idx = _keep_k(d2, found, keys, k)
        # the window holds every pixel within (radius − ½) px of the centre along each axis
        done = d2[:, -1] <= ((radius - 0.5) / max(height, width)) ** 2
        finished = pending[done]
        distance2[finished], key[finished], index[finished] = d2[done], kk[done], idx[done]
        pending, radius = pending[~done], 2 * radius
    if pending.numel():
        distance2[pending], key[pending], index[pending] = _brute_force(points, pending, cy, cx, k)
    return distance2, key, index


def nearest_points(points: CoordinateBatch, grid_size: tuple[int, int], k: int = 3) -> Found:
    """``(distance2 [B·h·w, k] float64, key, index [B·h·w, k] int64)``: the ``k`` nearest points of each
    cell centre of each sample's ``h × w`` grid, nearest first, their pixels ``row · W + column`` and
    their indices (``inf`` / −1 where a sample has fewer)."""
    h, w = grid_size
    if min(grid_size) <= 0 or k < 1:
        raise SparseInputError(f"need a positive grid size and k >= 1, got {grid_size} and {k}")
    if isinstance(points, GridWindow):
        return _window_nearest(points, h, w, k)
    return _subset_nearest(points, h, w, k)


def nearest_values(
    values: torch.Tensor, points: CoordinateBatch, grid_size: tuple[int, int], k: int = 3
) -> NearestValues:
    """The ``k`` nearest points of each cell and their ``values [N, C]`` (a chunkable reduction)."""
    _check(values, points, grid_size, k)
    distance2, key, index = nearest_points(points, grid_size, k)
    gathered = values[index.clamp(min=0)] * (index >= 0)[..., None].to(values.dtype)
    return NearestValues(distance2, key, gathered)


def inverse_distance_grid(
    nearest: NearestValues, batch_size: int, grid_size: tuple[int, int]
) -> torch.Tensor:
    """``[B, C, h, w]``: Σ v/d² / Σ 1/d² over each cell's neighbours; a neighbour at distance 0 gives its
    value exactly; 0 for a sample without points."""
    h, w = grid_size
    distance2 = nearest.distance2
    on_node = distance2 == 0
    weights = torch.where(on_node.any(1, keepdim=True), on_node.to(distance2.dtype), 1 / distance2)
    total = weights.sum(1, keepdim=True)
    weights = torch.where(total > 0, weights / total.clamp(min=1e-300), 0).to(nearest.values.dtype)
    grid = (nearest.values * weights[..., None]).sum(1)
    return grid.view(batch_size, h, w, -1).permute(0, 3, 1, 2).contiguous()


def sparse_to_grid_knn(
    values: torch.Tensor, points: CoordinateBatch, grid_size: tuple[int, int], k: int = 3
) -> torch.Tensor:
    """``[B, C, h, w]``: inverse-squared-distance interpolation of the ``k`` nearest points of each cell."""
    return inverse_distance_grid(nearest_values(values, points, grid_size, k), points.batch_size, grid_size)
