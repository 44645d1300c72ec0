"""Claiming an output location: its provenance record and an advisory lock, taken before any work.

Every output location infd writes (a samples folder, a single OME-Zarr store, a training folder) holds
``infd-output.json``: the fingerprint (:mod:`infd_core.provenance`) of the run that made it. A run that
claims the location

* creates it (a new or empty location) and writes the record first;
* continues it when the record has the same fingerprint (a rerun or ``--resume``: finished work kept);
* is refused, naming the differing keys, when the fingerprint differs (``overwrite`` empties it first);
* is refused when the location holds files without a record (infd never deletes what it did not write);
* is refused while another process holds the location's lock (``.infd-output.lock``, an ``flock`` the
  kernel drops when its holder dies, so a lock left by a killed run is simply taken).

Remote (fsspec) locations get the record but no lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import logging
import os
import shutil
import socket
from collections.abc import Iterable, Mapping
from typing import IO, Any

from infd_core.errors import OutputError
from infd_core.outputs import filesystem, is_local, write_bytes_atomic
from infd_core.provenance import OutputConflictError, describe_differences, differences, json_ready

logger = logging.getLogger(__name__)

RECORD_FILE = "infd-output.json"
LOCK_FILE = ".infd-output.lock"
#: files of the claim itself (not "content" of the location)
CLAIM_FILES = frozenset({RECORD_FILE, LOCK_FILE})
RECORD_FORMAT = "infd-output"


@dataclasses.dataclass
class OutputClaim:
    """A claimed location; ``resumed``: it already held output of the same fingerprint."""

    url: str
    resumed: bool
    lock: IO[str] | None = None
    created: bool = False  # this claim created the location

    def abandon(self) -> None:
        """After a run that failed before writing anything: remove a location this claim created
        (nothing but the claim's own files in it), then release."""
        try:
            if self.created and not content_entries(self.url):
                fs, path = filesystem(self.url)
                with contextlib.suppress(OSError):
                    fs.rm(path, recursive=True)
        finally:
            self.release()

    def release(self) -> None:
        """Clear the holder's note and drop the lock (the kernel drops it when the process ends, leaving
        the note: a later claim reports taking over a killed run's lock)."""
        if self.lock is not None:
            import fcntl

            self.lock.seek(0)
            self.lock.truncate()
            self.lock.flush()
            fcntl.flock(self.lock.fileno(), fcntl.LOCK_UN)
            self.lock.close()
            self.lock = None

    def __enter__(self) -> OutputClaim:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def read_record(url: str) -> dict[str, Any] | None:
    """The provenance record at ``url`` (None when it has none); a damaged record is an OutputError."""
    fs, path = filesystem(url)
    target = f"{path.rstrip('/')}/{RECORD_FILE}"
    try:
        if not fs.exists(target):
            return None
        if fs.size(target) > 1 << 22:
            raise OutputError(f"{url}/{RECORD_FILE}: larger than 4 MiB, not an infd provenance record")
        record = json.loads(fs.cat_file(target))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise OutputError(f"{url}/{RECORD_FILE}: damaged provenance record (not JSON)") from None
    except OSError as exc:
        raise OutputError(f"{url}: cannot be read: {exc.strerror or exc}") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise OutputError(f"{url}/{RECORD_FILE}: not an infd provenance record")
    if not isinstance(record.get("fingerprint"), dict):
        raise OutputError(f"{url}/{RECORD_FILE}: provenance record without a fingerprint")
    return record


def write_record(url: str, fingerprint: Mapping[str, Any], kind: str) -> None:
    """Write (atomically) the record of ``fingerprint`` at ``url`` (no time stamp: the same run writes
    the same bytes, on any number of ranks)."""
    record = {"format": RECORD_FORMAT, "kind": kind, "fingerprint": json_ready(dict(fingerprint))}
    write_bytes_atomic(f"{url.rstrip('/')}/{RECORD_FILE}", json.dumps(record, indent=2).encode() + b"\n")


def content_entries(url: str) -> list[str]:
    """Names at ``url`` other than the claim's own files (empty for a missing location)."""
    fs, path = filesystem(url)
    try:
        if not fs.exists(path):
            return []
        if not fs.isdir(path):
            raise OutputError(f"{url}: exists and is not a folder")
        names = [os.path.basename(p.rstrip("/")) for p in fs.ls(path, detail=False)]
    except OSError as exc:
        raise OutputError(f"{url}: cannot be read: {exc.strerror or exc}") from None
    return sorted(n for n in names if not is_claim_file(n))


def is_claim_file(name: str) -> bool:
    """The record, the lock, or a record write that a killed run left half-done."""
    return name in CLAIM_FILES or name.startswith(RECORD_FILE + ".tmp-")


def check_record(
    url: str,
    fingerprint: Mapping[str, Any],
    *,
    overwrite: bool = False,
    ignore: Iterable[str] = (),
    what: str = "output",
) -> bool:
    """Whether ``url`` may be continued (True: same fingerprint), is new/empty (False), or must be
    refused (OutputConflictError). With ``overwrite`` a differing record means "replace" (False)."""
    entries = content_entries(url)
    record = read_record(url)
    if record is None:
        if entries:
            shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            raise OutputConflictError(
                f"{url}: holds files without an infd provenance record ({shown}); infd does not mix its "
                f"{what} with them or delete them: choose a new or empty location"
            )
        return False
    found = differences(record["fingerprint"], fingerprint, ignore)
    if not found:
        return bool(entries)
    if overwrite:
        return False
    raise OutputConflictError(
        f"{url}: holds {what} made with other settings: {describe_differences(found)}; "
        "use --overwrite to replace it, or choose another location"
    )


def claim_output(
    url: str,
    fingerprint: Mapping[str, Any],
    *,
    kind: str = "samples",
    overwrite: bool = False,
    ignore: Iterable[str] = (),
) -> OutputClaim:
    """Check, lock and record the output location ``url`` before any work (see the module doc)."""
    ignore = tuple(ignore)
    fs, path = filesystem(url)
    locked_before = is_local(fs) and os.path.isfile(os.path.join(path, LOCK_FILE))
    if not locked_before:  # a location infd never claimed: checked before anything is created in it
        check_record(url, fingerprint, overwrite=overwrite, ignore=ignore, what=kind)
    created = not fs.exists(path)
    lock = None
    try:
        fs.makedirs(path, exist_ok=True)
        if is_local(fs):
            lock = _take_lock(url, path)
        resumed = check_record(url, fingerprint, overwrite=overwrite, ignore=ignore, what=kind)
        if not resumed:
            _empty(fs, path)
            write_record(url, fingerprint, kind)
        else:
            logger.info("%s: continuing an output of the same settings", url)
    except BaseException as exc:
        _undo(fs, path, created, lock)
        if isinstance(exc, OSError):
            raise OutputError(f"{url}: output location is not writable: {exc.strerror or exc}") from None
        raise
    return OutputClaim(url, resumed, lock, created)


def _take_lock(url: str, path: str) -> IO[str]:
    import fcntl

    handle = open(os.path.join(path, LOCK_FILE), "a+")  # noqa: SIM115 - held until released
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise OutputConflictError(
            f"{url}: is being written by {holder}; wait for it to finish or choose another location"
        ) from None
    handle.seek(0)
    previous = handle.read().strip()
    if previous:
        logger.info("%s: taking the lock left by %s (no longer running)", url, previous)
    handle.seek(0)
    handle.truncate()
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    handle.write(f"infd pid {os.getpid()} on {socket.gethostname()} since {started}\n")
    handle.flush()
    return handle


def _empty(fs: Any, path: str) -> None:
    """Remove everything at ``path`` but the claim's files (only ever called on a recorded location)."""
    for child in fs.ls(path, detail=False):
        if not is_claim_file(os.path.basename(child.rstrip("/"))):
            if is_local(fs) and os.path.isdir(child) and not os.path.islink(child):
                shutil.rmtree(child)
            else:
                fs.rm(child, recursive=True)


def _undo(fs: Any, path: str, created: bool, lock: IO[str] | None) -> None:
    """After a refused claim: release the lock and remove the location if this claim created it."""
    if lock is not None:
        OutputClaim("", False, lock).release()
    if created:
        with contextlib.suppress(OSError):  # best effort
            fs.rm(path, recursive=True)
