"""The zarr side of a tiled image store: layout, codecs, creating and opening it.

Layout of a store written by :class:`~infd_io.writer.TiledWriter`::

    image.zarr/
      zarr.json (or .zgroup + .zattrs)   OME-NGFF 0.5 (0.4) multiscales + omero
      0/ 1/ ... L-1/                      pyramid levels, axes (c, y, x); one shard (0.5) or a block of
                                          chunks (0.4) per tile at every level
      infd_tiles/                         the completion record: a zarr group whose attributes hold the
        0/ 1/ ...                         layout, with one uint8 array per level (1 = tile complete,
                                          one chunk per tile, so processes never share a record file)
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Mapping
from typing import Any

import numcodecs
import zarr
from zarr.codecs import BloscCodec, BloscShuffle

from infd_core.errors import OutputError
from infd_core.output_claims import check_record, is_claim_file, write_record
from infd_core.outputs import filesystem, is_local
from infd_io.layout import StoreLayout

RECORD_GROUP = "infd_tiles"
RECORD_FORMAT = 1
_BLOSC = {"zstd": ("zstd", 3), "lz4": ("lz4", 5)}
_PARTIAL_FILE = re.compile(r"\.[0-9a-f]{32}\.partial$")


@dataclasses.dataclass
class ImageStore:
    """Open handles on a store: the image group, its level arrays and the completion record."""

    url: str
    layout: StoreLayout
    group: Any
    levels: list[Any]
    record: list[Any]


def zarr_store(url: str, read_only: bool = False) -> Any:
    """A zarr store for a local path or an fsspec URL."""
    fs, path = filesystem(url)
    if is_local(fs):
        return zarr.storage.LocalStore(path, read_only=read_only)
    return zarr.storage.FsspecStore.from_url(str(url), read_only=read_only)


def _compressors(layout: StoreLayout) -> Any:
    if layout.compression == "none":
        return None
    cname, clevel = _BLOSC[layout.compression]
    if layout.zarr_format == 2:
        return numcodecs.Blosc(cname=cname, clevel=clevel, shuffle=numcodecs.Blosc.SHUFFLE)
    return BloscCodec(cname=cname, clevel=clevel, shuffle=BloscShuffle.shuffle)


def _create_level_array(group: Any, level: int, layout: StoreLayout) -> Any:
    channels, height, width = layout.grid.level_shape(level)
    chunk = (channels, layout.chunks, layout.chunks)
    options: dict[str, Any] = {
        "shape": (channels, height, width),
        "dtype": layout.dtype,
        "chunks": chunk,
        "compressors": _compressors(layout),
        "fill_value": 0,
    }
    if layout.zarr_format == 3:
        options["dimension_names"] = ("c", "y", "x")
        if layout.tile_size > layout.chunks:
            options["shards"] = (channels, layout.tile_size, layout.tile_size)
    else:
        options["chunk_key_encoding"] = {"name": "v2", "separator": "/"}
    return group.create_array(str(level), **options)


def _create_record(group: Any, layout: StoreLayout) -> list[Any]:
    """The completion record; its layout attribute is written last, so a store whose creation was cut
    short (a kill -9) never looks finished."""
    record_group = group.create_group(RECORD_GROUP)
    arrays = []
    for level in range(layout.levels):
        options: dict[str, Any] = {
            "shape": layout.grid.grid(level),
            "dtype": "uint8",
            "chunks": (1, 1),
            "compressors": None,
            "fill_value": 0,
        }
        if layout.zarr_format == 3:
            options["dimension_names"] = ("tile_y", "tile_x")
        else:
            options["chunk_key_encoding"] = {"name": "v2", "separator": "/"}
        arrays.append(record_group.create_array(str(level), **options))
    record_group.attrs.update({"infd_io": {"format": RECORD_FORMAT, "layout": layout.to_json()}})
    return arrays


def create_image_store(url: str, layout: StoreLayout, attributes: dict[str, Any]) -> ImageStore:
    """Write the group metadata, every level array and the empty record (no tile data yet)."""
    fs, path = filesystem(url)
    # "w-" refuses a folder with any file in it; a run's claim files (record, lock) may already be
    # there: "a" creates the group beside them (and a group made meanwhile by another process makes
    # the arrays' creation fail, as "w-" would)
    mode = "a" if fs.exists(path) and fs.ls(path, detail=False) else "w-"
    group = zarr.open_group(zarr_store(url), mode=mode, zarr_format=layout.zarr_format, attributes=attributes)
    levels = [_create_level_array(group, level, layout) for level in range(layout.levels)]
    record = _create_record(group, layout)
    return ImageStore(url, layout, group, levels, record)


def read_record_layout(group: Any) -> StoreLayout | None:
    """The layout saved in a store's completion record, or None when it has no record."""
    try:
        record_group = group[RECORD_GROUP]
    except KeyError:
        return None
    meta = dict(record_group.attrs).get("infd_io", {})
    if meta.get("format") != RECORD_FORMAT or "layout" not in meta:
        return None
    return StoreLayout.from_json(meta["layout"])


def open_image_store(url: str, read_only: bool = False) -> ImageStore:
    """Open a store written by the tiled writer; OutputError when it is not one."""
    try:
        group = zarr.open_group(zarr_store(url, read_only=read_only), mode="r" if read_only else "r+")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, KeyError) as exc:
        raise OutputError(f"{url}: not a zarr group ({type(exc).__name__})") from None
    layout = read_record_layout(group)
    if layout is None:
        raise OutputError(f"{url}: exists but has no infd tile record (not written by TiledWriter)")
    levels = [group[str(level)] for level in range(layout.levels)]
    record_group = group[RECORD_GROUP]
    record = [record_group[str(level)] for level in range(layout.levels)]
    return ImageStore(url, layout, group, levels, record)


def remove_partial_files(url: str, older_than: float = 60.0) -> int:
    """Delete temporary files that a killed writer left behind (local stores); returns how many.

    Only files older than ``older_than`` seconds go, so a write in flight in another process is
    never disturbed.
    """
    fs, path = filesystem(url)
    if not is_local(fs) or not os.path.isdir(path):
        return 0
    removed = 0
    now = time.time()
    for folder, _, files in os.walk(path):
        for name in files:
            file_path = os.path.join(folder, name)
            if _PARTIAL_FILE.search(name):
                try:
                    if now - os.path.getmtime(file_path) >= older_than:
                        os.remove(file_path)
                        removed += 1
                except FileNotFoundError:  # its writer finished in the meantime
                    pass
    return removed


def _is_nonempty_dir(fs: Any, path: str) -> bool:
    """Whether ``path`` is a folder with content (a run's claim files alone do not count)."""
    if not (fs.exists(path) and fs.isdir(path)):
        return False
    return any(not is_claim_file(os.path.basename(p.rstrip("/"))) for p in fs.ls(path, detail=False))


def _remove(fs: Any, path: str, keep_root: bool) -> None:
    """Remove ``path`` (or only what is inside it); best effort, used to undo a failed creation. A run's
    claim files (its provenance record and lock) stay, and with them the folder."""
    try:
        if not fs.exists(path):
            return
        children = fs.ls(path, detail=False)
        claimed = [c for c in children if is_claim_file(os.path.basename(c.rstrip("/")))]
        if keep_root or claimed:
            for child in children:
                if child not in claimed:
                    fs.rm(child, recursive=True)
        else:
            fs.rm(path, recursive=True)
    except OSError:  # pragma: no cover - nothing more we can do
        pass


def open_or_create_store(
    url: str,
    layout: StoreLayout,
    attributes: dict[str, Any],
    overwrite: bool,
    provenance: Mapping[str, Any] | None = None,
) -> tuple[ImageStore, bool]:
    """Open the store at ``url`` for resuming, or create it; returns (store, resumed).

    An existing store must have the same layout unless ``overwrite`` (then it is deleted first). With a
    ``provenance`` fingerprint, the store's record must match it too (or ``overwrite``); a new store gets
    the record before any tile. A creation that fails part-way removes what it wrote, so no half-made
    store is left behind.
    """
    fs, path = filesystem(url)
    try:
        existing = _is_nonempty_dir(fs, path)
        if fs.exists(path) and not fs.isdir(path):
            raise OutputError(f"{url}: exists and is not a folder")
    except OSError as exc:
        raise OutputError(f"{url}: cannot be read: {exc.strerror or exc}") from None
    if provenance is not None and existing:  # refused here when another run's settings made it
        check_record(url, provenance, overwrite=overwrite, what="an image")
        if not overwrite and not _creation_finished(url):
            # a run with these very settings was killed while creating the store, before any tile:
            # nothing of value is there, so it is made afresh (its record and lock stay)
            _remove(fs, path, keep_root=True)
            existing = False
    store, resumed = _open_or_create(url, layout, attributes, overwrite, existing)
    if provenance is not None and not resumed:
        write_record(url, provenance, kind="image")
    return store, resumed


def _creation_finished(url: str) -> bool:
    """Whether the store's creation got as far as its completion record (the last thing written)."""
    try:
        group = zarr.open_group(zarr_store(url, read_only=True), mode="r")
        return read_record_layout(group) is not None
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, KeyError, ValueError):
        return False


def _open_or_create(
    url: str, layout: StoreLayout, attributes: dict[str, Any], overwrite: bool, existing: bool
) -> tuple[ImageStore, bool]:
    from infd_core.outputs import ensure_writable_dir

    fs, path = filesystem(url)
    if existing and not overwrite:
        store = open_image_store(url)
        diffs = store.layout.differences(layout)
        if diffs:
            raise OutputError(
                f"{url}: an existing store has {'; '.join(diffs)}; pass overwrite=True to replace it"
            )
        return store, True
    if existing:
        _remove(fs, path, keep_root=False)
    created_root = not fs.exists(path)
    try:
        ensure_writable_dir(url)
        return create_image_store(url, layout, attributes), False
    except (zarr.errors.ContainsGroupError, zarr.errors.ContainsArrayError):
        # another process created it between our check and our write: resume what it made
        store = open_image_store(url)
        if store.layout.differences(layout):
            raise OutputError(f"{url}: another process created this store with a different layout") from None
        return store, True
    except OutputError:
        _remove(fs, path, keep_root=not created_root)
        raise
    except (OSError, ValueError, TypeError) as exc:
        _remove(fs, path, keep_root=not created_root)
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise OutputError(f"{url}: cannot create the store: {reason}") from None
