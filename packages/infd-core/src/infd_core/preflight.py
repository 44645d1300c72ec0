"""Checks before work: a sampling run's estimated memory and disk against what the machine has.

A pipeline estimates what :meth:`infd_core.pipeline.Pipeline.sample` will need
(:meth:`~infd_core.pipeline.Pipeline.resource_estimate`); the runner compares it with the memory
available on the run's device and the free disk under the output before building anything large, and
refuses with one line naming both (``--force`` / ``sample.force`` skips the check).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
from pathlib import Path

from infd_core.errors import UsageError

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ResourceEstimate:
    """Peak memory of the sampling process and bytes written for ``what`` (``2 images of 3×512×512``)."""

    memory_bytes: int
    disk_bytes: int
    what: str


def format_bytes(count: float) -> str:
    """``1.5 GiB``-style sizes."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(count) < 1024 or unit == "PiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def available_memory(device: str = "cpu") -> int | None:
    """Bytes the process may still allocate on ``device`` (None where unknown)."""
    if device.startswith("cuda"):
        import torch

        try:
            return int(torch.cuda.mem_get_info(torch.device(device))[0])
        except (RuntimeError, AssertionError):
            return None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


_UNITS = {"": 1, "b": 1, "k": 2**10, "kib": 2**10, "kb": 10**3, "m": 2**20, "mib": 2**20, "mb": 10**6,
          "g": 2**30, "gib": 2**30, "gb": 10**9, "t": 2**40, "tib": 2**40, "tb": 10**12}  # fmt: skip
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")
#: the most an "auto" memory budget takes on a CPU (1.25 GiB; sampling streams tiles through disk beyond it)
AUTO_CPU_BUDGET = 5 * 2**28


def parse_bytes(value: str | int) -> int:
    """Bytes from ``1536``, ``"512MiB"``, ``"1.5 GiB"``, ``"2GB"`` (binary and decimal units)."""
    if isinstance(value, bool):
        raise UsageError(f"not a size in bytes: {value!r}")
    if isinstance(value, int):
        count = value
    else:
        match = _SIZE.match(str(value))
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise UsageError(f"not a size in bytes: {value!r} (e.g. 1536, 512MiB, 1.5GiB)")
        count = int(float(match.group(1)) * _UNITS[unit])
    if count <= 0:
        raise UsageError(f"a size in bytes must be positive, got {value!r}")
    return count


def resolve_memory_budget(setting: str | int, device: str = "cpu") -> int:
    """A memory budget in bytes: ``auto`` is half of what a GPU has free, or on a CPU a quarter of the
    available memory up to 1.25 GiB; anything else is :func:`parse_bytes`."""
    if setting != "auto":
        return parse_bytes(setting)
    available = available_memory(device)
    if device.startswith("cuda"):
        return max(available // 2, 2**28) if available else 2**32
    return min(AUTO_CPU_BUDGET, max(available // 4, 2**28)) if available else AUTO_CPU_BUDGET


def free_disk(out: str) -> tuple[int, str] | None:
    """Free bytes on the local file system that would hold ``out`` and the folder measured (None for
    URLs of remote stores, whose capacity is not known here)."""
    if "://" in out and not out.startswith("file://"):
        return None
    path = Path(out.removeprefix("file://")).expanduser().absolute()
    for folder in (path, *path.parents):
        if folder.exists():
            return shutil.disk_usage(folder).free, str(folder)
    return None


def check_resources(estimate: ResourceEstimate, out: str, device: str = "cpu", force: bool = False) -> None:
    """Refuse (:class:`UsageError`, one line) a run whose estimate exceeds the memory or the disk."""
    memory = available_memory(device)
    disk = free_disk(out)
    short = []
    if memory is not None and estimate.memory_bytes > memory:
        short.append(f"memory ({format_bytes(memory)} available on {device})")
    if disk is not None and estimate.disk_bytes > disk[0]:
        short.append(f"disk ({format_bytes(disk[0])} free under {disk[1]})")
    needs = (
        f"{estimate.what} needs about {format_bytes(estimate.memory_bytes)} of memory and "
        f"{format_bytes(estimate.disk_bytes)} of disk"
    )
    if not short:
        logger.info("%s", needs)
        return
    if force:
        logger.warning("%s, more than the %s; going on (--force)", needs, " and ".join(short))
        return
    raise UsageError(f"{needs}: more than the {' and '.join(short)}; use --force to try anyway")
