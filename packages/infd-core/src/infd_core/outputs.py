"""Output locations (local paths or fsspec URLs): writability checks and atomic file writes."""

from __future__ import annotations

import os
import uuid
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from infd_core.errors import OutputError, UsageError

#: Seconds a remote (HTTP) read may wait for a connection or for the next bytes before it fails.
REMOTE_TIMEOUT_ENV = "INFD_REMOTE_TIMEOUT"
DEFAULT_REMOTE_TIMEOUT = 60.0


def remote_timeout() -> float:
    """The remote-read timeout in seconds (``INFD_REMOTE_TIMEOUT``, default 60)."""
    raw = os.environ.get(REMOTE_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_REMOTE_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise UsageError(f"{REMOTE_TIMEOUT_ENV}={raw!r} must be a positive number of seconds")
    return value


def _timeout_options(url: str) -> dict[str, Any]:
    """fsspec storage options that bound how long a read of ``url`` can wait (HTTP: aiohttp's connect
    and per-read timeouts; the whole transfer may take longer while bytes keep coming)."""
    protocol = fsspec.core.split_protocol(url)[0]
    if protocol not in ("http", "https"):
        return {}
    try:
        import aiohttp
    except ImportError:
        return {}  # fsspec then names the missing requirement
    seconds = remote_timeout()
    timeout = aiohttp.ClientTimeout(total=None, connect=seconds, sock_connect=seconds, sock_read=seconds)
    return {"client_kwargs": {"timeout": timeout}}


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path inside it (remote reads time out, see
    :func:`remote_timeout`)."""
    try:
        return fsspec.core.url_to_fs(str(url), **_timeout_options(str(url)))
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
