"""Scratch arrays on disk for computations larger than memory: a sampler's state, a model's stage outputs.

A :class:`ScratchStore` is a zarr group (uncompressed, zarr format 3) in a local folder or at an fsspec
URL. Arrays are made by name; asking again for a name with the same shape, chunks and dtype opens the
existing array (a resumed run finds its state), anything else replaces it. Beside the arrays lies
``progress.json``: the computation's own record, replaced atomically (:meth:`write_progress`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import zarr

from infd_core.errors import OutputError
from infd_core.outputs import filesystem, write_bytes_atomic
from infd_io.zarr_store import zarr_store

logger = logging.getLogger(__name__)

PROGRESS_FILE = "progress.json"


class ScratchStore:
    """Named float arrays in a zarr group at ``url`` (made on first use)."""

    def __init__(self, url: str) -> None:
        self.url = str(url).rstrip("/")
        try:
            self.group = zarr.open_group(zarr_store(self.url), mode="a", zarr_format=3)
        except (OSError, ValueError, zarr.errors.ContainsArrayError) as exc:
            raise OutputError(f"{self.url}: cannot open the scratch store: {exc}") from None

    def array(
        self, name: str, shape: tuple[int, ...], chunks: tuple[int, ...] | None = None, dtype: str = "float32"
    ) -> Any:
        """The array ``name``: the existing one when shape, chunks and dtype agree, else a new one."""
        chunks = tuple(min(c, s) for c, s in zip(chunks or shape, shape, strict=True))
        try:
            existing = self.group[name]
            if (
                tuple(existing.shape) == tuple(shape)
                and tuple(existing.chunks) == chunks
                and str(existing.dtype) == dtype
            ):
                return existing
        except KeyError:
            pass
        return self.group.create_array(
            name, shape=shape, chunks=chunks, dtype=dtype, compressors=None, fill_value=0, overwrite=True
        )

    def allocate(self, name: str, shape: tuple[int, ...], chunks: tuple[int, ...] | None) -> Any:
        """:meth:`array` with float32 entries for ``[B, C, H, W]`` fields, float64 for anything else."""
        return self.array(name, shape, chunks, "float32" if len(shape) == 4 else "float64")

    def read_progress(self) -> dict[str, Any] | None:
        """The last progress record, or None when there is none (or it cannot be read)."""
        return read_progress(self.url)

    def write_progress(self, record: dict[str, Any]) -> None:
        """Replace the progress record atomically (a reader sees the old one or the new one, never half)."""
        write_bytes_atomic(f"{self.url}/{PROGRESS_FILE}", json.dumps(record, sort_keys=True).encode())

    def remove(self) -> None:
        """Delete the whole store (once the computation's result is safe elsewhere)."""
        fs, path = filesystem(self.url)
        try:
            if fs.exists(path):
                fs.rm(path, recursive=True)
        except OSError as exc:
            logger.warning("%s: could not remove the scratch store: %s", self.url, exc)


def read_progress(url: str) -> dict[str, Any] | None:
    """The progress record of the scratch store at ``url`` without opening it as zarr (None if absent)."""
    fs, path = filesystem(str(url).rstrip("/"))
    try:
        with fs.open(f"{path}/{PROGRESS_FILE}", "rb") as handle:
            record = json.loads(handle.read(1 << 20))
    except (FileNotFoundError, ValueError, OSError):
        return None
    return record if isinstance(record, dict) else None


def describe_progress(record: dict[str, Any], url: str) -> str:
    """One line on how far a sampler's record says it got (``infd io info``)."""
    steps, done = record.get("steps"), record.get("done", 0)
    if record.get("image"):
        where = "all steps done, the image is being written"
    else:
        where = f"{done}/{steps} steps done"
    return f"sampling out of core: {where} (state in {url}; finish it with --resume)"
