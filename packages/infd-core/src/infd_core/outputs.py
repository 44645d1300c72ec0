"""Output locations (local paths or fsspec URLs): writability checks and atomic file writes."""

from __future__ import annotations

import os
import uuid
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from infd_core.errors import OutputError


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path inside it."""
    try:
        return fsspec.core.url_to_fs(str(url))
    except (ImportError, ValueError) as exc:
        raise OutputError(f"{url}: no filesystem for this URL: {exc}") from None


def is_local(fs: Any) -> bool:
    return isinstance(fs, LocalFileSystem)


def ensure_writable_dir(url: str) -> str:
    """Create the folder ``url`` if needed and prove it writable; returns the path on its filesystem."""
    fs, path = filesystem(url)
    try:
        if fs.exists(path) and not fs.isdir(path):
            raise OutputError(f"{url}: output path exists and is not a folder")
        fs.makedirs(path, exist_ok=True)
        probe = f"{path.rstrip('/')}/.infd-write-probe-{uuid.uuid4().hex}"
        fs.pipe_file(probe, b"")
        fs.rm_file(probe)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"{url}: output path is not writable: {exc.strerror or exc}") from None
    return path


def write_file_synced(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a local file and flush it to disk."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_bytes_atomic(url: str, data: bytes) -> None:
    """Write a file so that readers see either the old content or the new one, never a part."""
    fs, path = filesystem(url)
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    try:
        if is_local(fs):
            write_file_synced(tmp, data)
            os.replace(tmp, path)
        else:
            fs.pipe_file(tmp, data)
            fs.mv(tmp, path)
    except OSError as exc:
        _remove_quietly(fs, tmp)
        raise OutputError(f"{url}: cannot write: {exc.strerror or exc}") from None


def _remove_quietly(fs: Any, path: str) -> None:
    try:
        if fs.exists(path):
            fs.rm(path, recursive=True)
    except OSError:  # pragma: no cover - best effort clean-up
        pass
