"""``TiledWriter``: stream an image far larger than memory, tile by tile, into an OME-Zarr pyramid.

* The NGFF metadata and every level array are written when the writer is created, before any tile,
  so a viewer can open the store and watch tiles arrive.
* Tiles (``(c, y, x)`` blocks of ``tile_size`` pixels, smaller at the right and bottom edges) are
  accepted in any order, from any number of processes writing disjoint tiles.
* As soon as the (up to) four tiles under a tile of the next level are complete, that tile is
  downsampled from them and written: memory stays at a few tiles, whatever the image size.
* A completion record marks each tile after its pixels are stored; an interrupted run opened again
  skips every complete tile and rewrites the others whole.

Every tile of every level is one shard (NGFF 0.5, zarr v3) or a block of whole chunks (0.4, zarr v2),
so two processes never write the same file. When two processes finish the last children of one
parent at the same moment, both may build that parent; they write identical bytes, which is harmless.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from infd_core.errors import UsageError
from infd_core.events import ProgressCallback, ProgressEvent, TileWrittenEvent
from infd_core.faults import fault_point
from infd_io.completion import CompletionRecord
from infd_io.downsample import downsample_2x
from infd_io.errors import TileError
from infd_io.layout import StoreLayout, make_layout
from infd_io.naming import store_name
from infd_io.ngff import default_channels, image_attributes
from infd_io.tiling import Bounds, TileGrid, TileIndex
from infd_io.zarr_store import open_image_store, open_or_create_store, remove_partial_files

logger = logging.getLogger(__name__)

TileCallback = Callable[[TileWrittenEvent], None]


def _as_array(data: Any) -> np.ndarray:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    return np.asarray(data)


class TiledWriter:
    """Write a ``(channels, height, width)`` image tile by tile into an OME-Zarr pyramid at ``url``.

    ``dtype`` is uint8 or float32; ``chunks`` the square chunk side and ``tile_size`` the square
    tile (= shard) side, both powers of two; ``levels`` counts the pyramid levels, level 0 included
    (default: until the smallest level fits in one tile). Opening an existing store with the same
    layout resumes it; a different layout is refused unless ``overwrite``. Up to ``cache_tiles``
    tiles' worth of downsampled tiles are kept so parents need not read their children back. ``name``
    (the multiscales name) defaults to the store's: ``.../sample-003.ome.zarr`` -> ``sample-003``.
    ``provenance`` (a fingerprint of what produced the image, see :mod:`infd_core.provenance`) is
    recorded in the store before any tile; reopening a store recorded with another fingerprint is
    refused (naming the differing keys) unless ``overwrite``, so two runs' tiles never mix.
    """

    def __init__(
        self,
        url: str,
        shape: Sequence[int],
        dtype: Any = "uint8",
        chunks: int = 256,
        levels: int | None = None,
        *,
        tile_size: int = 1024,
        ngff_version: str = "0.5",
        compression: str = "zstd",
        name: str | None = None,
        channel_names: Sequence[str] | None = None,
        value_range: tuple[float, float] | None = None,
        overwrite: bool = False,
        on_tile_written: TileCallback | None = None,
        progress: ProgressCallback | None = None,
        rank: int = 0,
        cache_tiles: float = 8.0,
        eager_pyramid: bool = True,
        provenance: Mapping[str, Any] | None = None,
    ) -> None:
        layout = make_layout(shape, dtype, chunks, levels, tile_size, ngff_version, compression)
        attributes = self._attributes(layout, name or store_name(url), channel_names, value_range)
        self.url = str(url)
        self.layout = layout
        self.grid: TileGrid = layout.grid
        self.on_tile_written = on_tile_written
        self.progress = progress
        self.rank = rank
        self.eager_pyramid = eager_pyramid
        self._store, self.resumed = open_or_create_store(self.url, layout, attributes, overwrite, provenance)
        self.record = CompletionRecord(self._store.record, fresh=not self.resumed)
        if self.resumed:
            remove_partial_files(self.url)
        self._done_level0 = self.record.known_done(0)
        #: level-0 tiles not complete when this writer opened the store (ranks that open the store
        #: before any of them writes see the same list, so they can share it out consistently)
        self.pending_at_open: list[TileIndex] = [
            index for index in self.grid.tiles(0) if not self.record.is_done(0, index)
        ]
        # downsampled copies of tiles this process wrote, kept until their parent is built
        tile_bytes = layout.shape[0] * layout.tile_size**2 * np.dtype(layout.dtype).itemsize
        self._quarter_budget = int(cache_tiles * tile_bytes)
        self._quarters: collections.OrderedDict[tuple[int, TileIndex], np.ndarray] = collections.OrderedDict()
        self._quarter_bytes = 0
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._executor_pid = 0
        logger.info(
            "%s %s: %d of %d tiles complete",
            "resuming" if self.resumed else "created",
            self.url,
            self._done_level0,
            self.grid.num_tiles(0),
        )

    @staticmethod
    def _attributes(
        layout: StoreLayout,
        name: str,
        channel_names: Sequence[str] | None,
        value_range: tuple[float, float] | None,
    ) -> dict[str, Any]:
        channels = default_channels(layout.shape[0])
        if channel_names is not None:
            if len(channel_names) != layout.shape[0]:
                raise UsageError(
                    f"channel_names has {len(channel_names)} names for {layout.shape[0]} channels"
                )
            channels = [
                (str(label), colour) for label, (_, colour) in zip(channel_names, channels, strict=True)
            ]
        limits = (0.0, 255.0) if layout.dtype == "uint8" else (0.0, 1.0)
        window = tuple(float(v) for v in value_range) if value_range is not None else limits
        if len(window) != 2 or not window[0] < window[1]:
            raise UsageError(f"value_range must be (low, high) with low < high, got {value_range}")
        if layout.dtype == "float32":
            limits = window
        return image_attributes(name, layout.levels, layout.ngff_version, channels, window, limits)

    @classmethod
    def open(cls, url: str, **kwargs: Any) -> TiledWriter:
        """Reopen an existing store (its layout is read from the store) to resume or finish it."""
        layout = open_image_store(url, read_only=True).layout
        return cls(
            url,
            layout.shape,
            layout.dtype,
            layout.chunks,
            layout.levels,
            tile_size=layout.tile_size,
            ngff_version=layout.ngff_version,
            compression=layout.compression,
            **kwargs,
        )

    @classmethod
    def from_config(cls, config: Any, *, url: str, shape: Sequence[int], **kwargs: Any) -> TiledWriter:
        """Build from a :class:`infd_io.configs.TiledWriterConfig` (the registry's factory)."""
        options = config.model_dump()
        value_range = options.pop("value_range")
        return cls(
            url,
            shape,
            value_range=tuple(value_range) if value_range is not None else None,
            **options,
            **kwargs,
        )

    # -- the tile grid ------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.layout.shape

    @property
    def levels(self) -> int:
        return self.layout.levels

    def tiles(self) -> list[TileIndex]:
        """Every level-0 tile index, row by row."""
        return list(self.grid.tiles(0))

    def pending_tiles(self) -> list[TileIndex]:
        """Level-0 tiles not yet complete (what a resumed run still has to write)."""
        done = self.record.refresh(0)
        return [index for index in self.grid.tiles(0) if not done[index]]

    def tile_bounds(self, index: TileIndex, level: int = 0) -> Bounds:
        """((y0, y1), (x0, x1)) of a tile in the pixels of its level."""
        return self.grid.bounds(level, self._check_index(index, level))

    def is_complete(self, index: TileIndex, level: int = 0) -> bool:
        return self.record.check(level, self._check_index(index, level))

    def is_finished(self) -> bool:
        """Whether every tile of every level is complete."""
        return all(done == total for done, total in self.record.counts())

    def _check_index(self, index: Any, level: int = 0) -> TileIndex:
        try:
            i, j = (int(v) for v in index)
        except (TypeError, ValueError):
            raise TileError(f"tile index must be a pair of ints (row, column), got {index!r}") from None
        if not self.grid.contains(level, (i, j)):
            rows, cols = self.grid.grid(level)
            raise TileError(f"tile {(i, j)} is outside the {rows}x{cols} tile grid of level {level}")
        return i, j

    # -- writing ----------------------------------------------------------------------------

    def write_tile(self, index: TileIndex, data: Any) -> bool:
        """Write level-0 tile ``index`` (a ``(c, h, w)`` array or tensor of the store's dtype).

        Returns False without writing when the tile is already complete. Pyramid tiles whose inputs
        are now all complete are built before returning.
        """
        index = self._check_index(index)
        block = self._check_tile(index, data)
        if self.record.is_done(0, index):
            logger.debug("%s: tile %s already complete, skipped", self.url, index)
            return False
        self._store_tile(0, index, block)
        fault_point("tile")  # tests make a rank fail here (INFD_FAIL_AT); a no-op otherwise
        self._done_level0 += 1
        if self.progress is not None:
            self.progress(ProgressEvent("tiles", self._done_level0, self.grid.num_tiles(0)))
        if self.eager_pyramid:
            self._build_ready_parents(index)
        return True

    def _check_tile(self, index: TileIndex, data: Any) -> np.ndarray:
        block = _as_array(data)
        (y0, y1), (x0, x1) = self.grid.bounds(0, index)
        expected = (self.shape[0], y1 - y0, x1 - x0)
        if block.shape != expected:
            raise TileError(f"tile {index} must have shape {expected} (c, y, x), got {tuple(block.shape)}")
        if block.dtype != np.dtype(self.layout.dtype):
            hint = " (viewers cannot read float16)" if block.dtype == np.float16 else ""
            raise TileError(
                f"tile {index} has dtype {block.dtype}, but the store holds {self.layout.dtype}{hint}"
            )
        return np.ascontiguousarray(block)

    def _store_tile(self, level: int, index: TileIndex, block: np.ndarray) -> None:
        (y0, y1), (x0, x1) = bounds = self.grid.bounds(level, index)
        quarter = None
        caching = self._quarter_budget > 0 and (self.eager_pyramid or level > 0)
        if level + 1 < self.levels and caching:  # downsample while zarr writes
            quarter = self._downsampler().submit(downsample_2x, block)
        self._store.levels[level][:, y0:y1, x0:x1] = block
        self.record.mark_done(level, index)
        if self.on_tile_written is not None:
            self.on_tile_written(TileWrittenEvent(self.url, level, index, bounds, self.rank))
        if quarter is not None:
            self._remember_quarter(level, index, quarter.result())

    def _downsampler(self) -> concurrent.futures.ThreadPoolExecutor:
        """One helper thread per writer (and per process: a forked child makes its own)."""
        if self._executor is None or self._executor_pid != os.getpid():
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="infd-io-downsample")
            self._executor_pid = os.getpid()
        return self._executor

    def close(self) -> None:
        """Stop the helper thread and drop cached tiles (the store itself needs no closing)."""
        if self._executor is not None and self._executor_pid == os.getpid():
            self._executor.shutdown(wait=True)
        self._executor = None
        self._quarters.clear()
        self._quarter_bytes = 0

    def _remember_quarter(self, level: int, index: TileIndex, quarter: np.ndarray) -> None:
        self._quarters[(level, index)] = quarter
        self._quarter_bytes += quarter.nbytes
        while self._quarter_bytes > self._quarter_budget:
            _, evicted = self._quarters.popitem(last=False)
            self._quarter_bytes -= evicted.nbytes

    def _quarter(self, level: int, index: TileIndex) -> np.ndarray:
        """Tile ``index`` of ``level`` downsampled 2× (from the cache, or read back from the store)."""
        cached = self._quarters.pop((level, index), None)
        if cached is not None:
            self._quarter_bytes -= cached.nbytes
            return cached
        (y0, y1), (x0, x1) = self.grid.bounds(level, index)
        return downsample_2x(np.asarray(self._store.levels[level][:, y0:y1, x0:x1]))

    def _children_done(self, level: int, index: TileIndex) -> bool:
        rows, cols = self.grid.grid(level - 1)
        i, j = index
        return self.record.block_done(level - 1, (2 * i, min(2 * i + 2, rows)), (2 * j, min(2 * j + 2, cols)))

    def _build(self, level: int, index: TileIndex) -> None:
        """Tile ``index`` of ``level`` from its (complete) children, each downsampled 2×: children
        start on even pixels, so this equals downsampling the block they form."""
        (y0, y1), (x0, x1) = self.grid.bounds(level, index)
        block = np.empty((self.shape[0], y1 - y0, x1 - x0), dtype=self.layout.dtype)
        half = self.layout.tile_size // 2
        for child in self.grid.children(level, index):
            quarter = self._quarter(level - 1, child)
            top, left = (child[0] - 2 * index[0]) * half, (child[1] - 2 * index[1]) * half
            block[:, top : top + quarter.shape[1], left : left + quarter.shape[2]] = quarter
        self._store_tile(level, index, block)

    def _build_ready_parents(self, index: TileIndex) -> None:
        level = 0
        while level + 1 < self.levels:
            index = self.grid.parent(index)
            level += 1
            if self.record.is_done(level, index) or not self._children_done(level, index):
                return
            self._build(level, index)

    def write_array(self, image: Any) -> bool:
        """Write every pending level-0 tile from an in-memory ``(C, H, W)`` array, then :meth:`finalize`."""
        for index in self.pending_tiles():
            (y0, y1), (x0, x1) = self.tile_bounds(index)
            self.write_tile(index, image[:, y0:y1, x0:x1])
        return self.finalize()

    def build_level(self, level: int, tiles: Sequence[TileIndex] | None = None) -> int:
        """Build the tiles of pyramid ``level`` (default: all; else those in ``tiles``) that are not
        complete but whose children are; returns how many were built."""
        done = self.record.refresh(level)
        built = 0
        for index in self.grid.tiles(level) if tiles is None else tiles:
            if not done[index] and self._children_done(level, index):
                self._build(level, index)
                built += 1
        return built

    def finalize(self) -> bool:
        """Build every pyramid tile whose inputs are complete but that is not (an interrupted run
        leaves such tiles); returns whether the whole pyramid is complete. Safe to call from any
        process at any time."""
        built = sum(self.build_level(level) for level in range(1, self.levels))
        remove_partial_files(self.url)
        self.close()
        finished = self.is_finished()
        logger.info("%s: finalize built %d pyramid tiles; complete: %s", self.url, built, finished)
        return finished

    def __enter__(self) -> TiledWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.finalize()
        else:
            self.close()
