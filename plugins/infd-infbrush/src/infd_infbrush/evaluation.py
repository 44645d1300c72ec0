"""How the denoiser's stages run over a coordinate set: all points at once, or in bands of grid rows.

The denoiser is written once in terms of three operations, so training (a random subset, all at once)
and large-image sampling (every pixel, in bands of rows with bounded memory) share one implementation:

* ``pointwise(fn, *inputs)``: ``fn(*rows, points)`` on each chunk of points, results concatenated;
* ``local(fn, *inputs)``: ``fn(*rows, points, neighbours)`` on each band extended by a halo of
  ``kernel_size // 2`` rows, keeping the band's own rows (exact for one depthwise convolution);
* ``reduce(fn, *inputs)``: the sum over chunks of ``fn(*rows, points)`` (per-sample key/value sums of
  linear attention, splatting onto the inner grid), which the next stage applies to every chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch

from infd_sparse import CoordinateBatch, NeighbourMap, build_neighbours


def add(a: Any, b: Any) -> Any:
    """Sum of two results of a reduction (tensors, objects with ``+``, or tuples/lists of them)."""
    if isinstance(a, (tuple, list)):
        return type(a)(add(x, y) for x, y in zip(a, b, strict=True))
    return a + b


class PointEvaluator(Protocol):
    batch_size: int

    def pointwise(self, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor: ...

    def local(self, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor: ...

    def reduce(self, fn: Callable[..., Any], *inputs: torch.Tensor) -> Any: ...


class WholeSet:
    """Every stage on all points at once (training on random subsets, small images)."""

    def __init__(self, points: CoordinateBatch, neighbours: NeighbourMap) -> None:
        self.points = points
        self.neighbours = neighbours
        self.batch_size = points.batch_size

    def pointwise(self, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor:
        return fn(*inputs, self.points)

    def local(self, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor:
        return fn(*inputs, self.points, self.neighbours)

    def reduce(self, fn: Callable[..., Any], *inputs: torch.Tensor) -> Any:
        return fn(*inputs, self.points)


class GridBands:
    """Every pixel of ``batch_size`` images of ``grid`` (points in ``CoordinateBatch.full`` order),
    evaluated in bands of ``rows`` rows.

    A band's neighbour map depends only on its height (a band is a full rectangle of rows), so maps are
    cached per height: one for the interior bands, a few for the image borders.
    """

    def __init__(
        self,
        batch_size: int,
        grid: tuple[int, int],
        rows: int,
        kernel_size: int,
        device: torch.device | str = "cpu",
    ) -> None:
        self.batch_size = batch_size
        self.grid = (int(grid[0]), int(grid[1]))
        self.rows = max(1, min(int(rows), self.grid[0]))
        self.kernel_size = kernel_size
        self.radius = kernel_size // 2
        self.device = torch.device(device)
        self._maps: dict[int, NeighbourMap] = {}

    @property
    def num_points(self) -> int:
        return self.batch_size * self.grid[0] * self.grid[1]

    def bands(self) -> list[tuple[int, int]]:
        height = self.grid[0]
        return [(r, min(height, r + self.rows)) for r in range(0, height, self.rows)]

    def indices(self, top: int, bottom: int) -> torch.Tensor:
        """Rows of the flat ``[N, C]`` values holding rows ``top:bottom`` of every image."""
        height, width = self.grid
        band = torch.arange(top * width, bottom * width, device=self.device)
        starts = torch.arange(self.batch_size, device=self.device) * (height * width)
        return (starts[:, None] + band[None]).reshape(-1)

    def points(self, top: int, bottom: int) -> CoordinateBatch:
        width = self.grid[1]
        rows = torch.arange(top, bottom, device=self.device).repeat_interleave(width)
        cols = torch.arange(width, device=self.device).repeat(bottom - top)
        coords = torch.stack([rows, cols], 1).repeat(self.batch_size, 1)
        batch = torch.arange(self.batch_size, device=self.device).repeat_interleave(len(rows))
        return CoordinateBatch(coords, batch, self.grid, self.batch_size)

    def _neighbours(self, points: CoordinateBatch, height: int) -> NeighbourMap:
        if height not in self._maps:
            self._maps[height] = build_neighbours(points, kernel_size=self.kernel_size)
        return self._maps[height]

    def pointwise(self, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor | None = None
        for top, bottom in self.bands():
            index = self.indices(top, bottom)
            result = fn(*(x[index] for x in inputs), self.points(top, bottom))
            if out is None:
                out = result.new_empty(self.num_points, *result.shape[1:])
            out[index] = result
        assert out is not None
        return out

    def local(self, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor | None = None
        height, width = self.grid
        for top, bottom in self.bands():
            low, high = max(0, top - self.radius), min(height, bottom + self.radius)
            points = self.points(low, high)
            nbrs = self._neighbours(points, high - low)
            index = self.indices(low, high)
            result = fn(*(x[index] for x in inputs), points, nbrs)
            # the band's own rows inside the extended band, per image
            own = torch.arange((top - low) * width, (bottom - low) * width, device=self.device)
            keep = (torch.arange(self.batch_size, device=self.device)[:, None] * ((high - low) * width)
                    + own[None]).reshape(-1)  # fmt: skip
            if out is None:
                out = result.new_empty(self.num_points, *result.shape[1:])
            out[self.indices(top, bottom)] = result[keep]
        assert out is not None
        return out

    def reduce(self, fn: Callable[..., Any], *inputs: torch.Tensor) -> Any:
        total = None
        for top, bottom in self.bands():
            index = self.indices(top, bottom)
            result = fn(*(x[index] for x in inputs), self.points(top, bottom))
            total = result if total is None else add(total, result)
        return total
