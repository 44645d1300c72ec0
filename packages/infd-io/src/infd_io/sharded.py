"""One OME-Zarr store written by every rank of a distributed run, byte-identical for any rank count.

1. :func:`open_shared_writer`: rank 0 creates (or resumes, or replaces) the store; after a barrier the
   other ranks open it; after a second barrier every rank holds the same ``pending_at_open`` list.
2. :func:`write_shared`: each rank writes its share of those level-0 tiles (every ``world``-th). A
   tile is one shard (zarr v3) or a block of whole chunks (v2), so no two ranks touch the same file.
   Pyramid tiles are not built eagerly, since two ranks could then build the same parent.
3. :func:`finalize_shared`: level by level, each rank builds every ``world``-th pyramid tile whose
   children are complete, with a barrier between levels; rank 0 then checks the completion record
   and removes leftovers, and a last barrier lets every rank read the finished store.

Tile contents must depend only on the tile (per-tile generators from ``(seed, tile index)``), never on
the rank. A run that dies leaves its complete tiles recorded; the same call with ``overwrite=False``
skips them and finishes the store with the same bytes as an uninterrupted run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch.distributed as dist

from infd_core.distributed import DistInfo, barrier, current
from infd_core.errors import OutputError
from infd_io.tiling import TileIndex
from infd_io.writer import TiledWriter

logger = logging.getLogger(__name__)


def _broadcast_error(message: str | None, info: DistInfo) -> str | None:
    if not info.distributed:
        return message
    box = [message]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def open_shared_writer(
    url: str,
    shape: Sequence[int],
    dtype: Any = "uint8",
    chunks: int = 256,
    levels: int | None = None,
    *,
    overwrite: bool = False,
    info: DistInfo | None = None,
    **kwargs: Any,
) -> TiledWriter:
    """A :class:`TiledWriter` on ``url`` for every rank (a plain one without a process group)."""
    info = info or current()
    if not info.distributed:
        return TiledWriter(url, shape, dtype, chunks, levels, overwrite=overwrite, **kwargs)
    kwargs.setdefault("eager_pyramid", False)
    kwargs["rank"] = info.rank
    writer: TiledWriter | None = None
    error = None
    if info.is_main:
        try:
            writer = TiledWriter(url, shape, dtype, chunks, levels, overwrite=overwrite, **kwargs)
        except Exception as exc:  # every rank must learn that there is no store, then rank 0 re-raises
            error = f"{type(exc).__name__}: {exc}"
            _broadcast_error(error, info)
            raise
    error = _broadcast_error(error, info)
    if error is not None:
        raise OutputError(f"{url}: rank 0 could not open the store ({error})")
    if writer is None:
        writer = TiledWriter(url, shape, dtype, chunks, levels, overwrite=False, **kwargs)
    barrier()  # nobody writes before every rank has read the same pending tiles
    return writer


def my_tiles(writer: TiledWriter, info: DistInfo | None = None) -> list[TileIndex]:
    """This rank's share of the level-0 tiles that were pending when the store was opened."""
    info = info or current()
    return writer.pending_at_open[info.rank :: info.world_size]


def write_shared(writer: TiledWriter, tile: Callable[[TileIndex], Any], info: DistInfo | None = None) -> int:
    """Write this rank's tiles, ``tile(index)`` giving each one's ``(c, h, w)`` data; returns how many."""
    written = 0
    for index in my_tiles(writer, info):
        if writer.record.is_done(0, index):
            continue
        written += int(writer.write_tile(index, tile(index)))
    return written


def finalize_shared(writer: TiledWriter, info: DistInfo | None = None) -> bool:
    """Build the pyramid with every rank (disjoint tiles per level); returns whether the store is complete.

    Every rank must call it; without a process group it is :meth:`TiledWriter.finalize`.
    """
    info = info or current()
    if not info.distributed:
        return writer.finalize()
    barrier()  # every level-0 tile is written
    for level in range(1, writer.levels):
        mine = list(writer.grid.tiles(level))[info.rank :: info.world_size]
        writer.build_level(level, mine)
        barrier()
    if info.is_main:
        writer.finalize()  # builds nothing now; removes partial files, logs the record's counts
    else:
        writer.close()
    barrier()
    return writer.is_finished()


def write_array_shared(writer: TiledWriter, image: Any, info: DistInfo | None = None) -> bool:
    """Every rank holds the same in-memory ``(C, H, W)`` image and writes its share of its tiles."""

    def crop(index: TileIndex) -> np.ndarray:
        (y0, y1), (x0, x1) = writer.tile_bounds(index)
        return image[:, y0:y1, x0:x1]

    write_shared(writer, crop, info)
    return finalize_shared(writer, info)


__all__ = ["finalize_shared", "my_tiles", "open_shared_writer", "write_array_shared", "write_shared"]
