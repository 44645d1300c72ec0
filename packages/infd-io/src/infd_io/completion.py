"""The completion record: which tiles of which level are fully written.

A tile is marked only after all of its pixels are in the store, so a marked tile is complete and an
unmarked one is rewritten whole on resume. Each tile has its own record chunk (its own file), so
processes writing disjoint tiles never touch the same record file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from infd_io.tiling import TileIndex


class CompletionRecord:
    """Per-level grids of done flags, stored as uint8 zarr arrays with one chunk per tile.

    Done is final, so flags seen once (at opening, or when this process marks a tile) are remembered;
    :meth:`is_done` answers from memory and :meth:`block_done` reads the store only for tiles it has
    not seen done (another process may have finished them).
    """

    def __init__(self, arrays: Sequence[Any], *, fresh: bool = False) -> None:
        """``fresh``: the record was just created, so nothing is done and nothing need be read (a
        gigapixel store has one record file per tile)."""
        self._arrays = list(arrays)
        self._known: set[tuple[int, TileIndex]] = set()
        if not fresh:
            for level in range(self.levels):
                self._remember(level, self.done_grid(level))

    @property
    def levels(self) -> int:
        return len(self._arrays)

    def _remember(self, level: int, grid: np.ndarray, offset: TileIndex = (0, 0)) -> None:
        for i, j in zip(*np.nonzero(grid), strict=True):
            self._known.add((level, (int(i) + offset[0], int(j) + offset[1])))

    def is_done(self, level: int, index: TileIndex) -> bool:
        """Done when the record said so at opening or this process marked it since."""
        return (level, index) in self._known

    def check(self, level: int, index: TileIndex) -> bool:
        """Read one flag from the store (sees tiles other processes finished)."""
        if (level, index) not in self._known and self._arrays[level][index[0], index[1]]:
            self._known.add((level, index))
        return (level, index) in self._known

    def known_done(self, level: int) -> int:
        """How many tiles of ``level`` this record has seen done."""
        return sum(1 for known_level, _ in self._known if known_level == level)

    def mark_done(self, level: int, index: TileIndex) -> None:
        self._arrays[level][index[0], index[1]] = 1
        self._known.add((level, index))

    def refresh(self, level: int) -> np.ndarray:
        """Re-read one level from the store (tiles other processes finished); returns its grid."""
        grid = self.done_grid(level)
        self._remember(level, grid)
        return grid

    def done_grid(self, level: int) -> np.ndarray:
        """Boolean (rows, cols) grid of ``level``."""
        return np.asarray(self._arrays[level][...]) != 0

    def block_done(self, level: int, rows: tuple[int, int], cols: tuple[int, int]) -> bool:
        """Whether every tile of ``level`` in rows ``[r0, r1)`` and columns ``[c0, c1)`` is done."""
        tiles = [(level, (i, j)) for i in range(*rows) for j in range(*cols)]
        if tiles and all(tile in self._known for tile in tiles):
            return True
        block = np.asarray(self._arrays[level][rows[0] : rows[1], cols[0] : cols[1]]) != 0
        self._remember(level, block, (rows[0], cols[0]))
        return bool(block.size) and bool(block.all())

    def counts(self) -> list[tuple[int, int]]:
        """(done, total) per level."""
        out = []
        for level in range(self.levels):
            grid = self.done_grid(level)
            out.append((int(grid.sum()), int(grid.size)))
        return out
