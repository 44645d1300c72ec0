"""Reading a checkpoint folder as untrusted input: strict headers, bounded reads, clear errors (no torch:
``infd checkpoint info`` reads headers only).

* ``config.json`` is read up to :data:`MAX_CONFIG_BYTES` and its fields are checked (types, names).
* A safetensors part is read only when it is a regular file (not a device or a FIFO, e.g. a symlink to
  ``/dev/zero``), its header is valid (dtype, shape and byte range of every tensor agree) and its size
  is exactly what the header describes; then exactly that many bytes are read.
* Errors of a remote filesystem (refused connection, timeout, HTTP status) name the URL and the cause
  instead of looking like a missing folder.
"""

from __future__ import annotations

import contextlib
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from infd_core.bounded_data import DataLimitError, load_json
from infd_core.errors import CheckpointError, CheckpointNotFoundError, InfdError
from infd_core.outputs import REMOTE_TIMEOUT_ENV, filesystem, is_local, remote_timeout

FORMAT = "infd-checkpoint"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin")
#: Largest ``config.json`` read (bytes).
MAX_CONFIG_BYTES = 16 << 20
#: Largest safetensors header read (bytes); the format itself caps it at 100 MB.
MAX_HEADER_BYTES = 100_000_000
#: Bytes per element of each safetensors dtype.
DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "F8_E8M0": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
    "C64": 8,
}


@contextlib.contextmanager
def read_errors(url: str) -> Iterator[None]:
    """Turn what a filesystem raises while reading ``url`` into a one-line CheckpointError naming the
    URL and the cause (a refused connection, a timeout, a permission) rather than "not found"."""
    try:
        yield
    except InfdError:
        raise
    except FileNotFoundError as exc:
        cause = exc.__cause__ or exc.__context__  # fsspec's HTTP info() hides the cause behind this
        if cause is None or isinstance(cause, FileNotFoundError) or _http_status(cause) == 404:
            raise CheckpointNotFoundError(f"{url}: not found") from None
        raise CheckpointError(f"{url}: cannot read ({_describe(cause)})") from None
    except Exception as exc:  # aiohttp, botocore, ... raise their own types
        raise CheckpointError(f"{url}: cannot read ({_describe(exc)})") from None


def _http_status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        return f"no reply within {remote_timeout():g} s (set {REMOTE_TIMEOUT_ENV} to wait longer)"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def file_size(fs: Any, path: str, label: str) -> int | None:
    """The size of a regular file; anything else (a device, a FIFO, a folder) is refused. None where a
    remote filesystem does not say (the read is then bounded by the header instead)."""
    if is_local(fs):
        try:
            info = os.stat(path)  # follows symlinks: what would be read
        except FileNotFoundError:
            raise CheckpointError(f"{label}: not found") from None
        if not stat.S_ISREG(info.st_mode):
            raise CheckpointError(f"{label}: not a regular file; refusing to read it")
        return info.st_size
    info = fs.info(path)
    if info.get("type") not in (None, "file"):
        raise CheckpointError(f"{label}: not a file ({info.get('type')})")
    size = info.get("size")
    return int(size) if isinstance(size, int) else None


def open_sequential(fs: Any, path: str) -> Any:
    """A binary file handle read from start to end only (HTTP: one streamed GET, so servers without
    range requests work and nothing is fetched ahead)."""
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    if "http" in protocols or "https" in protocols:
        return fs.open(path, "rb", block_size=0)
    return fs.open(path, "rb")


def read_exactly(handle: Any, count: int) -> bytes:
    """``count`` bytes, fewer only at the end of the file (a stream may return short reads)."""
    chunks, have = [], 0
    while have < count:
        chunk = handle.read(count - have)
        if not chunk:
            break
        chunks.append(chunk)
        have += len(chunk)
    return b"".join(chunks)


def read_bounded(fs: Any, path: str, label: str, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes."""
    size = file_size(fs, path, label)
    if size is not None and size > limit:
        raise CheckpointError(f"{label}: {size} bytes, more than the {limit} this file may have")
    with open_sequential(fs, path) as handle:
        data = read_exactly(handle, limit + 1)
    if len(data) > limit:
        raise CheckpointError(f"{label}: more than the {limit} bytes this file may have")
    return data


def parse_json_file(data: bytes, label: str) -> Any:
    """Bounded JSON parsing of a checkpoint file (malformed or too deep: a CheckpointError)."""
    try:
        return load_json(data)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError and DataLimitError are ValueErrors
        reason = str(exc) if isinstance(exc, DataLimitError) else f"not valid JSON: {exc}"
        raise CheckpointError(f"{label}: {reason}") from None


def validate_checkpoint_header(header: Any, label: str, format_name: str, newest: int) -> dict[str, Any]:
    """Check every field of a parsed ``config.json``; returns it with optional fields filled in."""
    if not isinstance(header, dict) or header.get("format") != format_name:
        raise CheckpointError(f"{label}: not an infd checkpoint header")
    version = header.get("format_version", 1)
    if type(version) is not int or version < 1:
        raise CheckpointError(f"{label}: format_version must be a positive integer, got {version!r}")
    if version > newest:
        raise CheckpointError(
            f"{label}: checkpoint format {version} is newer than this infd-core reads ({newest}); "
            "upgrade infd-core"
        )
    files = header.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise CheckpointError(f"{label}: files must be a list of file names, got {_short(files)}")
    for name in files:
        stem = name.removesuffix(".safetensors")
        plain = stem and PurePosixPath(name).name == name and not stem.startswith(".")
        if not name.endswith(".safetensors") or not plain:
            raise CheckpointError(f"{label}: files lists {name!r}, not a plain NAME.safetensors")
    if len(set(files)) != len(files):
        raise CheckpointError(f"{label}: files lists a file twice")
    for key in ("config", "meta", "versions"):
        value = header.setdefault(key, {})
        if not isinstance(value, dict):
            raise CheckpointError(f"{label}: {key} must be a mapping, got {_short(value)}")
    if not all(isinstance(v, str) for v in header["versions"].values()):
        raise CheckpointError(f"{label}: versions must map distributions to version strings")
    return header


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_safetensors_index(index: Any, label: str) -> tuple[dict[str, Any], int]:
    """Check a safetensors header: every tensor has a known dtype, a shape of non-negative integers and
    a byte range that fits them. Returns the header and the length of the data it describes."""
    if not isinstance(index, dict):
        raise CheckpointError(f"{label}: the safetensors header is not a mapping")
    end = 0
    for name, entry in index.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise CheckpointError(f"{label}: __metadata__ must map names to strings")
            continue
        where = f"{label}: tensor {name!r}"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            keys = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise CheckpointError(f"{where} must have dtype, shape and data_offsets (has {keys})")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPE_BYTES:
            raise CheckpointError(f"{where}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
            raise CheckpointError(f"{where}: shape must list non-negative integers, got {_short(shape)}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(type(o) is int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            raise CheckpointError(f"{where}: data_offsets must be [begin, end], got {_short(offsets)}")
        if offsets[1] - offsets[0] != math.prod(shape) * DTYPE_BYTES[dtype]:
            raise CheckpointError(
                f"{where}: shape {shape} of {dtype} needs {math.prod(shape) * DTYPE_BYTES[dtype]} bytes, "
                f"its data_offsets give {offsets[1] - offsets[0]}"
            )
        end = max(end, offsets[1])
    return index, end


def read_safetensors(fs: Any, path: str, label: str, *, with_data: bool) -> tuple[dict[str, Any], bytes]:
    """The validated header of a safetensors file and (``with_data``) the whole file, read only after
    its size was checked against the header. ``label`` names the file in errors."""
    size = file_size(fs, path, label)
    with open_sequential(fs, path) as handle:
        head = read_exactly(handle, 8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 0 < length <= MAX_HEADER_BYTES or (size is not None and 8 + length > size):
            raise CheckpointError(
                f"{label}: cannot be read as safetensors ({_sniff(head)}); infd never unpickles "
                "checkpoint files"
            )
        body = read_exactly(handle, length)
        try:
            parsed = load_json(body)
        except (ValueError, UnicodeDecodeError):
            raise CheckpointError(
                f"{label}: cannot be read as safetensors ({_sniff(head + body)}); infd never unpickles "
                "checkpoint files"
            ) from None
        index, data_length = validate_safetensors_index(parsed, label)
        expected = 8 + length + data_length
        if size is not None and size != expected:
            raise CheckpointError(f"{label}: {size} bytes, but its header describes {expected}")
        if not with_data:
            return index, b""
        data = read_exactly(handle, data_length + 1)
    if len(data) != data_length:
        raise CheckpointError(f"{label}: {8 + length + len(data)} bytes, but its header describes {expected}")
    return index, head + body + data


def _sniff(data: bytes) -> str:
    if data[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        return "a Python pickle"
    if data[:4] == b"PK\x03\x04":
        return "a zip archive (torch.save format, which holds pickles)"
    return "not a safetensors file"


def _listing(url: str) -> tuple[Any, str, set[str]]:
    """The filesystem, path and file names of a checkpoint folder; a folder that does not exist is a
    CheckpointNotFoundError, a remote that cannot be reached a CheckpointError naming the cause."""
    fs, path = filesystem(url)
    if is_local(fs):
        if not Path(path).is_dir():
            raise CheckpointNotFoundError(f"{url}: checkpoint folder not found")
        return fs, path, {entry.name for entry in Path(path).iterdir()}
    with read_errors(url):
        try:
            names = fs.ls(path, detail=False)
        except (FileNotFoundError, NotADirectoryError) as exc:
            if exc.__cause__ is None and exc.__context__ is None:
                raise CheckpointNotFoundError(f"{url}: checkpoint folder not found") from None
            raise
    return fs, path, {PurePosixPath(str(p).rstrip("/")).name for p in names}


def read_checkpoint_header(url: str, verify_files: bool = True) -> dict[str, Any]:
    """The ``config.json`` of a checkpoint, every field checked; with ``verify_files``, every listed file
    must be a regular file with a valid safetensors header that matches its size (read without loading
    tensors, never unpickling)."""
    fs, path, entries = _listing(url)
    if CONFIG_FILE not in entries:
        pickles = sorted(e for e in entries if e.endswith(PICKLE_SUFFIXES))
        if pickles:
            raise CheckpointError(
                f"{url}: holds {', '.join(pickles)} (pickle format) and no {CONFIG_FILE}; infd loads only "
                "safetensors checkpoints and never unpickles files"
            )
        raise CheckpointNotFoundError(f"{url}: not an infd checkpoint (no {CONFIG_FILE})")
    label = f"{url.rstrip('/')}/{CONFIG_FILE}"
    with read_errors(label):
        data = read_bounded(fs, f"{path.rstrip('/')}/{CONFIG_FILE}", label, MAX_CONFIG_BYTES)
    header = validate_checkpoint_header(parse_json_file(data, label), label, FORMAT, FORMAT_VERSION)
    for file_name in header["files"]:
        if file_name not in entries:
            raise CheckpointError(f"{url}: {file_name} is missing from the checkpoint")
        if verify_files:
            safetensors_index(url, file_name)
    return header


def safetensors_index(url: str, file_name: str) -> dict[str, Any]:
    """The validated JSON header of ``<url>/<file_name>`` (tensor name -> dtype, shape, data offsets),
    read without loading tensors; the file must be a regular file whose size matches the header."""
    fs, path = filesystem(url)
    label = f"{url.rstrip('/')}/{file_name}"
    with read_errors(label):
        index, _ = read_safetensors(fs, f"{path.rstrip('/')}/{file_name}", label, with_data=False)
    return index
