"""Inspect and read OME-Zarr image stores: shape, levels, chunks, shards, completion, regions.

Works on any OME-NGFF 0.4/0.5 image group; the completion counts need the record that
:class:`~infd_io.writer.TiledWriter` keeps (other stores report completion as unknown).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import zarr

from infd_core.errors import OutputError, UsageError
from infd_core.output_claims import read_record
from infd_core.provenance import differences
from infd_io.completion import CompletionRecord
from infd_io.ngff import read_image_attributes
from infd_io.zarr_store import RECORD_GROUP, read_record_layout, zarr_store


@dataclasses.dataclass(frozen=True)
class LevelInfo:
    """One pyramid level: its array path, shape, chunk and shard shapes, and tiles done / total."""

    path: str
    shape: tuple[int, ...]
    dtype: str
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None
    tiles_done: int | None
    tiles_total: int | None


@dataclasses.dataclass(frozen=True)
class StoreInfo:
    """What ``infd io info`` prints."""

    url: str
    ngff_version: str
    zarr_format: int
    axes: tuple[str, ...]
    levels: tuple[LevelInfo, ...]
    tile_size: int | None
    compression: str | None
    #: the fingerprint of the run that wrote it (``infd-output.json``), None when it has none
    provenance: dict[str, Any] | None = None

    @property
    def complete(self) -> bool | None:
        """True when every tile of every level is written; None without a completion record."""
        if any(level.tiles_done is None for level in self.levels):
            return None
        return all(level.tiles_done == level.tiles_total for level in self.levels)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["complete"] = self.complete
        return data

    def to_text(self) -> str:
        """A short human-readable report."""
        top = self.levels[0]
        lines = [
            f"{self.url}",
            f"  OME-NGFF {self.ngff_version} (zarr v{self.zarr_format}), axes {', '.join(self.axes)}, "
            f"shape {top.shape}, {top.dtype}",
            f"  tile {self.tile_size or 'unknown'}, compression {self.compression or 'unknown'}",
        ]
        for level in self.levels:
            done = "unknown" if level.tiles_done is None else f"{level.tiles_done}/{level.tiles_total} tiles"
            shards = f", shards {level.shards}" if level.shards else ""
            lines.append(f"  level {level.path}: {level.shape}, chunks {level.chunks}{shards}, {done}")
        complete = {True: "complete", False: "incomplete", None: "unknown (no infd tile record)"}
        lines.append(f"  completion: {complete[self.complete]}")
        if self.provenance is not None:
            made = self.provenance
            shown = {k: made[k] for k in ("pipeline", "seed", "size", "checkpoint") if k in made}
            lines.append("  made by: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
        return "\n".join(lines)


def open_image_group(url: str) -> tuple[Any, str, dict[str, Any]]:
    """(zarr group, NGFF version, multiscales body) of an OME-Zarr image, opened read-only."""
    try:
        group = zarr.open_group(zarr_store(url, read_only=True), mode="r")
        version, body = read_image_attributes(dict(group.attrs))
    except (FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError):
        raise UsageError(f"{url}: no zarr group here") from None
    except ValueError as exc:
        raise UsageError(f"{url}: {exc}") from None
    return group, version, body


def store_info(url: str) -> StoreInfo:
    """Describe the OME-Zarr image at ``url``."""
    group, version, body = open_image_group(url)
    multiscale = body["multiscales"][0]
    layout = read_record_layout(group)
    counts: list[tuple[int, int]] | None = None
    if layout is not None:
        record_group = group[RECORD_GROUP]
        counts = CompletionRecord([record_group[str(k)] for k in range(layout.levels)]).counts()
    levels = []
    for k, dataset in enumerate(multiscale["datasets"]):
        array = group[dataset["path"]]
        done, total = counts[k] if counts is not None and k < len(counts) else (None, None)
        levels.append(
            LevelInfo(
                path=dataset["path"],
                shape=tuple(array.shape),
                dtype=str(array.dtype),
                chunks=tuple(array.chunks),
                shards=tuple(array.shards) if getattr(array, "shards", None) else None,
                tiles_done=done,
                tiles_total=total,
            )
        )
    return StoreInfo(
        url=str(url),
        ngff_version=version,
        zarr_format=int(group.metadata.zarr_format),
        axes=tuple(axis["name"] for axis in multiscale["axes"]),
        levels=tuple(levels),
        tile_size=layout.tile_size if layout else None,
        compression=layout.compression if layout else None,
        provenance=_provenance(url),
    )


def _provenance(url: str) -> dict[str, Any] | None:
    try:
        record = read_record(url)
    except OutputError:
        return None
    return None if record is None else record["fingerprint"]


def is_finished_store(url: str, provenance: Mapping[str, Any] | None = None) -> bool:
    """Whether ``url`` holds a complete store written by the tiled writer (and, with ``provenance``,
    recorded with that same fingerprint): such an image need not be computed again."""
    try:
        info = store_info(url)
        record = read_record(url) if provenance is not None else None
    except (UsageError, OutputError):
        return False
    if provenance is not None and (record is None or differences(record["fingerprint"], provenance)):
        return False
    return info.complete is True


def open_level(url: str, level: int = 0) -> Any:
    """The zarr array of pyramid ``level`` (read-only)."""
    group, _, body = open_image_group(url)
    datasets = body["multiscales"][0]["datasets"]
    if not 0 <= level < len(datasets):
        raise UsageError(f"{url}: level {level} does not exist (levels 0..{len(datasets) - 1})")
    return group[datasets[level]["path"]]


def read_region(
    url: str, level: int = 0, rows: tuple[int, int] | None = None, cols: tuple[int, int] | None = None
) -> np.ndarray:
    """Pixels ``[:, r0:r1, c0:c1]`` of ``level`` (whole level when rows/cols are None)."""
    array = open_level(url, level)
    r0, r1 = rows if rows is not None else (0, array.shape[1])
    c0, c1 = cols if cols is not None else (0, array.shape[2])
    if not (0 <= r0 < r1 <= array.shape[1] and 0 <= c0 < c1 <= array.shape[2]):
        raise UsageError(f"{url}: region rows {rows}, cols {cols} is outside level {level} {array.shape}")
    return np.asarray(array[:, r0:r1, c0:c1])
