"""Where rendered tiles go: an in-memory array, the zarr ``TiledWriter`` of infd-io, or anything with
the :class:`TileSink` shape.

A sink owns the tile grid (the zarr writer's tiles are its shards, so tiles must align with them);
the renderer asks it for tiles, renders each with a halo, and hands back exactly the tile's pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from infd_core.errors import UsageError
from infd_render.coords import Region, check_region, image_size

TileIndex = tuple[int, int]


@runtime_checkable
class TileSink(Protocol):
    """Receives ``(channels, h, w)`` numpy tiles of a region of an image, in any order."""

    channels: int
    dtype: np.dtype

    def tiles(self) -> list[tuple[TileIndex, Region]]:
        """Tiles still to render: index and absolute pixel bounds ``((y0, y1), (x0, x1))``."""
        ...

    def write(self, index: TileIndex, data: np.ndarray) -> None: ...


def tile_regions(region: Region, tile_size: int) -> list[tuple[TileIndex, Region]]:
    """Split ``region`` into ``tile_size`` tiles anchored at its top-left corner (edge tiles smaller)."""
    if tile_size < 1:
        raise UsageError(f"tile_size must be positive, got {tile_size}")
    (y0, y1), (x0, x1) = region
    out = []
    for i, ty in enumerate(range(y0, y1, tile_size)):
        for j, tx in enumerate(range(x0, x1, tile_size)):
            out.append(((i, j), ((ty, min(ty + tile_size, y1)), (tx, min(tx + tile_size, x1)))))
    return out


class ArraySink:
    """Keeps ``region`` of an image of ``size`` in a numpy array ``(channels, h, w)`` (small images)."""

    def __init__(
        self,
        size: int | Sequence[int],
        channels: int = 3,
        dtype: Any = np.float32,
        tile_size: int = 512,
        region: Region | None = None,
    ) -> None:
        self.size = image_size(size)
        self.region = check_region(self.size, region)
        self.channels, self.dtype, self.tile_size = channels, np.dtype(dtype), tile_size
        (y0, y1), (x0, x1) = self.region
        self.array = np.zeros((channels, y1 - y0, x1 - x0), dtype=self.dtype)
        self._tiles = dict(tile_regions(self.region, tile_size))

    def tiles(self) -> list[tuple[TileIndex, Region]]:
        return list(self._tiles.items())

    def write(self, index: TileIndex, data: np.ndarray) -> None:
        (y0, y1), (x0, x1) = self._tiles[index]
        (oy, _), (ox, _) = self.region
        self.array[:, y0 - oy : y1 - oy, x0 - ox : x1 - ox] = data


class ZarrSink:
    """Streams tiles into an infd-io :class:`~infd_io.TiledWriter` (its pending tiles, its grid).

    The ranks of a distributed run each wrap ``infd_io.sharded.open_shared_writer(url, ...)`` and render
    disjoint tiles (``rank``/``world_size`` of :meth:`~infd_render.tiled.TiledRenderer.render_to_sink`).
    """

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self.channels = int(writer.shape[0])
        self.dtype = np.dtype(writer.layout.dtype)
        self.size = tuple(writer.shape[1:])

    @classmethod
    def create(
        cls, url: str, size: int | Sequence[int], channels: int = 3, dtype: str = "uint8", **options: Any
    ) -> ZarrSink:
        """A new (or resumed) OME-Zarr store at ``url``; options go to ``TiledWriter``."""
        from infd_io import TiledWriter  # lazy: rendering to memory never touches zarr

        height, width = image_size(size)
        return cls(TiledWriter(url, (channels, height, width), dtype, **options))

    @classmethod
    def create_shared(
        cls, url: str, size: int | Sequence[int], channels: int = 3, dtype: str = "uint8", **options: Any
    ) -> ZarrSink:
        """Like :meth:`create`, for every rank of a distributed run (rank 0 creates, the others open)."""
        from infd_io.sharded import open_shared_writer

        height, width = image_size(size)
        return cls(open_shared_writer(url, (channels, height, width), dtype, **options))

    def tiles(self) -> list[tuple[TileIndex, Region]]:
        """The tiles pending when the store was opened (the same list on every rank that opened it
        before any rank wrote: see ``infd_io.sharded.open_shared_writer``), less those written since."""
        pending = [index for index in self.writer.pending_at_open if not self.writer.record.is_done(0, index)]
        return [(index, self.writer.tile_bounds(index)) for index in pending]

    def write(self, index: TileIndex, data: np.ndarray) -> None:
        self.writer.write_tile(index, data)

    def finalize(self) -> bool:
        """Build the pyramid (split among the ranks of a distributed run; every rank must call it)."""
        from infd_io.sharded import finalize_shared

        return bool(finalize_shared(self.writer))


class NullSink:
    """Discards tiles after counting them (benchmarks, memory tests); keeps a running checksum."""

    def __init__(
        self,
        size: int | Sequence[int],
        channels: int = 3,
        dtype: Any = np.uint8,
        tile_size: int = 512,
        region: Region | None = None,
    ) -> None:
        self.size = image_size(size)
        self.channels, self.dtype = channels, np.dtype(dtype)
        self._tiles = tile_regions(check_region(self.size, region), tile_size)
        self.written = 0
        self.checksum = 0.0

    def tiles(self) -> list[tuple[TileIndex, Region]]:
        return list(self._tiles)

    def write(self, index: TileIndex, data: np.ndarray) -> None:
        self.written += 1
        self.checksum += float(data.astype(np.float64).sum())
