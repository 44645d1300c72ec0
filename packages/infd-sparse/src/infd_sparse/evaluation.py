"""How a point model's stages run over its points: all at once, or tile by tile over every pixel of a grid.

A model written against a :class:`PointEvaluator` runs unchanged on a random subset of pixels (training:
:class:`WholeSet`, sparse neighbour maps) and on every pixel of an image of any size (sampling:
:class:`GridTiles`, dense kernels, bounded memory). It expresses its forward pass in three operations:

* ``pointwise(fn, *inputs)``: ``fn(*rows, points)`` on each chunk of points, results put together;
* ``local(fn, *inputs)``: ``fn(*rows, points, neighbourhood)`` on each tile extended by a halo, keeping
  the tile's own outputs (exact for local operators whose radius is at most the halo, e.g. one
  depthwise convolution); ``neighbourhood`` is a :class:`~infd_sparse.neighbours.NeighbourMap` or a
  :class:`~infd_sparse.dense.DenseWindow`, which :class:`~infd_sparse.layers.SparseDepthwiseConv` accepts;
  ``channelwise=True`` promises that output channel c depends on input channel c only and that ``fn``
  takes ``channels=slice`` (the channels it is given), so an evaluator may run it on a few at a time;
* ``reduce(fn, *inputs)``: the sum over chunks of ``fn(*rows, points)`` (global reductions: splatting
  onto an inner grid, key/value sums of linear attention), which the next stage applies to every chunk.

Inputs and outputs are ``[N, C]`` tensors over all points (for a grid: ``CoordinateBatch.full`` order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import torch

from infd_sparse.coords import CoordinateBatch, GridWindow
from infd_sparse.dense import DenseWindow
from infd_sparse.errors import SparseInputError
from infd_sparse.neighbours import NeighbourMap


def add(a: Any, b: Any) -> Any:
    """Sum of two results of a reduction (tensors, objects with ``+``, or tuples/lists of them)."""
    if isinstance(a, (tuple, list)):
        return type(a)(add(x, y) for x, y in zip(a, b, strict=True))
    return a + b


class PointEvaluator(Protocol):
    batch_size: int

    def pointwise(self, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor: ...

    def local(
        self, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor, channelwise: bool = False
    ) -> torch.Tensor: ...

    def reduce(self, fn: Callable[..., Any], *inputs: torch.Tensor) -> Any: ...


class WholeSet:
    """Every stage on all points at once, local operators through a neighbour map (training)."""

    def __init__(self, points: CoordinateBatch, neighbours: NeighbourMap | DenseWindow) -> None:
        self.points = points
        self.neighbours = neighbours
        self.batch_size = points.batch_size

    def pointwise(self, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor:
        return fn(*inputs, self.points)

    def local(
        self, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor, channelwise: bool = False
    ) -> torch.Tensor:
        return fn(*inputs, self.points, self.neighbours)

    def reduce(self, fn: Callable[..., Any], *inputs: torch.Tensor) -> Any:
        return fn(*inputs, self.points)


Rect = tuple[int, int, int, int]  # top, bottom, left, right

#: pixels (times the batch) per tile: 2^20 keeps a tile's features of a tiny model around 100 MB
DEFAULT_TILE_POINTS = 1 << 20


class GridTiles:
    """Every pixel of ``batch_size`` images of ``grid``, in tiles of at most ``tile_points`` pixels.

    ``halo``: the radius of the largest local operator (e.g. the resized kernel's ``k // 2``). A tile
    extended by the halo is cut from the ``[N, C]`` inputs by strided views (no index tensors), so the
    extra memory of a stage is a few tiles, whatever the image size. Tiles are square where the image
    allows; their size changes only which pixels share a tile, never a pixel's result beyond float
    rounding (tests hold tiled outputs to the whole-image evaluation).
    """

    def __init__(
        self,
        batch_size: int,
        grid: tuple[int, int],
        halo: int,
        tile_points: int = DEFAULT_TILE_POINTS,
        device: torch.device | str = "cpu",
    ) -> None:
        if batch_size < 1 or min(grid) < 1 or halo < 0 or tile_points < 1:
            raise SparseInputError(
                f"need a positive batch, grid and tile budget and halo >= 0, got "
                f"{batch_size}, {grid}, {tile_points}, {halo}"
            )
        self.batch_size = batch_size
        self.grid = (int(grid[0]), int(grid[1]))
        self.halo = int(halo)
        self.device = torch.device(device)
        height, width = self.grid
        side = max(1, int((tile_points / batch_size) ** 0.5))
        self.tile_cols = min(width, side)
        self.tile_rows = min(height, max(1, tile_points // (batch_size * self.tile_cols)))

    @property
    def num_points(self) -> int:
        return self.batch_size * self.grid[0] * self.grid[1]

    def tiles(self) -> Iterator[Rect]:
        height, width = self.grid
        for top in range(0, height, self.tile_rows):
            for left in range(0, width, self.tile_cols):
                yield top, min(height, top + self.tile_rows), left, min(width, left + self.tile_cols)

    def extended(self, rect: Rect) -> Rect:
        """The tile grown by the halo, clipped to the image."""
        top, bottom, left, right = rect
        height, width = self.grid
        h = self.halo
        return max(0, top - h), min(height, bottom + h), max(0, left - h), min(width, right + h)

    def points(self, rect: Rect) -> GridWindow:
        """The tile's pixels as a coordinate set (row-major per image)."""
        return GridWindow.of(self.batch_size, self.grid, rect, self.device)

    def window(self, rect: Rect) -> DenseWindow:
        top, bottom, left, right = rect
        return DenseWindow(self.batch_size, self.grid, top, left, bottom - top, right - left, self.halo)

    def _view(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[0] != self.num_points:
            raise SparseInputError(f"inputs must be [{self.num_points}, C], got {list(x.shape)}")
        return x.view(self.batch_size, self.grid[0], self.grid[1], x.shape[1])

    def _cut(self, inputs: tuple[torch.Tensor, ...], rect: Rect) -> list[torch.Tensor]:
        top, bottom, left, right = rect
        return [self._view(x)[:, top:bottom, left:right].reshape(-1, x.shape[1]) for x in inputs]

    def _store(self, out: torch.Tensor | None, result: torch.Tensor, rect: Rect, inner: Rect) -> torch.Tensor:
        """Write the ``inner`` part of a result computed on ``rect`` into the whole-image output."""
        if out is None:
            out = result.new_empty(self.num_points, result.shape[1])
        top, bottom, left, right = rect
        tile = result.view(self.batch_size, bottom - top, right - left, result.shape[1])
        i_top, i_bottom, i_left, i_right = inner
        self._view(out)[:, i_top:i_bottom, i_left:i_right] = tile[
            :, i_top - top : i_bottom - top, i_left - left : i_right - left
        ]
        return out

    def pointwise(self, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor:
        out = None
        for rect in self.tiles():
            out = self._store(out, fn(*self._cut(inputs, rect), self.points(rect)), rect, rect)
        assert out is not None
        return out

    def local(
        self, fn: Callable[..., torch.Tensor], *inputs: torch.Tensor, channelwise: bool = False
    ) -> torch.Tensor:
        out = None
        for rect in self.tiles():
            grown = self.extended(rect)
            result = fn(*self._cut(inputs, grown), self.points(grown), self.window(grown))
            out = self._store(out, result, grown, rect)
        assert out is not None
        return out

    def reduce(self, fn: Callable[..., Any], *inputs: torch.Tensor) -> Any:
        total = None
        for rect in self.tiles():
            result = fn(*self._cut(inputs, rect), self.points(rect))
            total = result if total is None else add(total, result)
        return total
