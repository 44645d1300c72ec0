"""How a point model trained at one resolution meets a grid of another: resized kernels, neighbour maps
for point sets, tiles for full grids. Shared by ∞-Diff's and ∞-Brush's denoisers."""

from __future__ import annotations

from typing import Any

import torch

from infd_sparse import CoordinateBatch, GridTiles, NeighbourMap, build_neighbours, resized_kernel_size


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
