"""The tile grid of a pyramid: level shapes, tile bounds, parents and children.

Level ``l`` is the image downsampled ``2**l`` times (sizes rounded up). Every level is cut into square
tiles of ``tile_size`` pixels from the top-left corner, so tile ``(i, j)`` of level ``l + 1`` is made
from tiles ``(2i .. 2i+1, 2j .. 2j+1)`` of level ``l`` (those that exist).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

TileIndex = tuple[int, int]
Bounds = tuple[tuple[int, int], tuple[int, int]]


def is_power_of_two(n: int) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n > 0 and n & (n - 1) == 0


def halved(size: int, times: int) -> int:
    """``size`` halved ``times`` times, rounding up each time (= ceil(size / 2**times))."""
    return -(-size // (1 << times))


def max_levels(height: int, width: int) -> int:
    """Levels until the image is one pixel in both directions."""
    return 1 + math.ceil(math.log2(max(height, width))) if max(height, width) > 1 else 1


def default_levels(height: int, width: int, tile_size: int) -> int:
    """Fewest levels whose smallest level fits in one tile."""
    levels = 1
    while max(halved(height, levels - 1), halved(width, levels - 1)) > tile_size:
        levels += 1
    return levels


@dataclasses.dataclass(frozen=True)
class TileGrid:
    """Tiles of an image of ``shape = (channels, height, width)`` over ``levels`` pyramid levels."""

    shape: tuple[int, int, int]
    tile_size: int
    levels: int

    @property
    def channels(self) -> int:
        return self.shape[0]

    def level_shape(self, level: int) -> tuple[int, int, int]:
        """(channels, height, width) of ``level``."""
        self._check_level(level)
        channels, height, width = self.shape
        return channels, halved(height, level), halved(width, level)

    def grid(self, level: int) -> tuple[int, int]:
        """Number of tile rows and columns at ``level``."""
        _, height, width = self.level_shape(level)
        return -(-height // self.tile_size), -(-width // self.tile_size)

    def num_tiles(self, level: int) -> int:
        rows, cols = self.grid(level)
        return rows * cols

    def contains(self, level: int, index: TileIndex) -> bool:
        rows, cols = self.grid(level)
        return 0 <= index[0] < rows and 0 <= index[1] < cols

    def bounds(self, level: int, index: TileIndex) -> Bounds:
        """((y0, y1), (x0, x1)) of a tile in the pixels of its level (end-exclusive)."""
        _, height, width = self.level_shape(level)
        i, j = index
        t = self.tile_size
        return (i * t, min((i + 1) * t, height)), (j * t, min((j + 1) * t, width))

    def tiles(self, level: int = 0) -> Iterator[TileIndex]:
        """Every tile index of ``level``, row by row."""
        rows, cols = self.grid(level)
        for i in range(rows):
            for j in range(cols):
                yield i, j

    def parent(self, index: TileIndex) -> TileIndex:
        """The tile of the next level that ``index`` contributes to."""
        return index[0] // 2, index[1] // 2

    def children(self, level: int, index: TileIndex) -> list[TileIndex]:
        """The tiles of ``level - 1`` that make tile ``index`` of ``level``."""
        if level < 1:
            raise ValueError("level 0 tiles have no children")
        i, j = index
        candidates = [(2 * i + a, 2 * j + b) for a in (0, 1) for b in (0, 1)]
        return [c for c in candidates if self.contains(level - 1, c)]

    def source_bounds(self, level: int, index: TileIndex) -> Bounds:
        """Pixels of ``level - 1`` that tile ``index`` of ``level`` is downsampled from."""
        (y0, y1), (x0, x1) = self.bounds(level, index)
        _, height, width = self.level_shape(level - 1)
        return (2 * y0, min(2 * y1, height)), (2 * x0, min(2 * x1, width))

    def _check_level(self, level: int) -> None:
        if not 0 <= level < self.levels:
            raise ValueError(f"level {level} is outside 0..{self.levels - 1}")
