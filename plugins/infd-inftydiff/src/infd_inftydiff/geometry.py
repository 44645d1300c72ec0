"""How a point model trained at one resolution meets a grid of another: resized kernels, neighbour maps
for point sets, tiles for full grids. Shared by ∞-Diff's and ∞-Brush's denoisers."""

from __future__ import annotations

from typing import Any

import torch

from infd_sparse import (
    CoordinateBatch,
    GridTiles,
    NeighbourMap,
    PointEvaluator,
    bilinear_splat_sums,
    build_neighbours,
    inverse_distance_grid,
    nearest_values,
    normalise_splat,
    resized_kernel_size,
)


def to_inner_grid(ev: PointEvaluator, h: torch.Tensor, config: Any) -> torch.Tensor:
    """Point features ``h [N, C]`` onto the inner grid ``[B, C, R, R]`` (``R = config.grid.resolution``) as
    ``config.interpolation`` says: ``knn`` (the paper's k nearest points, inverse squared distances) or
    ``bilinear`` (splatting; cells without nearby points stay 0); reduced over all the evaluator's tiles."""
    side = config.grid.resolution
    if config.interpolation == "knn":
        k = config.knn_neighbours
        nearest = ev.reduce(lambda x, p: nearest_values(x, p, (side, side), k), h)
        return inverse_distance_grid(nearest, ev.batch_size, (side, side))
    sums, mass = ev.reduce(lambda x, p: bilinear_splat_sums(x, p, (side, side)), h)
    return normalise_splat(sums, mass, ev.batch_size, (side, side))


class KernelGeometry:
    """Mixin for denoisers whose ``config`` has ``kernel_size``, ``train_resolution``, ``sparse_backend``."""

    config: Any

    def kernel_scale(self, grid: tuple[int, int]) -> float:
        """Resolution of an ``H × W`` grid relative to the training resolution (kernels are resized by it)."""
        return max(grid) / self.config.train_resolution

    def kernel_size_at(self, grid: tuple[int, int]) -> int:
        """The resized sparse kernel's size on an ``H × W`` grid."""
        return resized_kernel_size(self.config.kernel_size, self.kernel_scale(grid))

    def neighbours(self, points: CoordinateBatch) -> NeighbourMap:
        """The neighbour map all sparse blocks share (kernel size follows the resolution)."""
        size = self.kernel_size_at(points.grid)
        return build_neighbours(points, kernel_size=size, backend=self.config.sparse_backend)

    def grid_tiles(
        self, batch_size: int, grid: tuple[int, int], tile_points: int, device: torch.device | str
    ) -> GridTiles:
        """Every pixel of ``batch_size`` images of ``grid``, tile by tile with dense kernels."""
        return GridTiles(batch_size, grid, self.kernel_size_at(grid) // 2, tile_points, device)
