"""torch.distributed helpers: start from torchrun's environment, rank and world size, barrier.

Everything works without a process group (a single process is rank 0 of 1) and on CPU with gloo.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import os
import sys
from typing import Any, NoReturn

import torch
import torch.distributed as dist

from infd_core.errors import UsageError

logger = logging.getLogger(__name__)

#: What torchrun sets in every rank's environment.
TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
TIMEOUT_VAR = "INFD_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 600.0


@dataclasses.dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a distributed run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes shared files (checkpoints, metadata)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    """Whether the environment carries torchrun's rendezvous variables."""
    return all(v in os.environ for v in TORCHRUN_VARS)


def dist_timeout_s() -> float:
    """The process-group timeout: ``INFD_DIST_TIMEOUT`` seconds, or 600 (how long a rank waits for a
    peer in a collective before it gives up with an error instead of hanging)."""
    text = os.environ.get(TIMEOUT_VAR, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{TIMEOUT_VAR}={text!r} is not a number of seconds") from None
    if value <= 0:
        raise UsageError(f"{TIMEOUT_VAR} must be positive, got {text!r}")
    return value


def init_distributed(
    device: torch.device | None = None, *, timeout_s: float | None = None, backend: str | None = None
) -> DistInfo:
    """Join the process group described by torchrun's environment, if there is one.

    The backend is NCCL for CUDA devices and gloo otherwise; ``timeout_s`` defaults to
    :func:`dist_timeout_s`. Calling it twice is harmless.
    """
    if timeout_s is None:
        timeout_s = dist_timeout_s()
    if dist.is_available() and dist.is_initialized():
        return current()
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) == 1:
        return DistInfo(local_rank=int(os.environ.get("LOCAL_RANK", 0)))
    if backend is None:
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
    if backend == "nccl" and device is not None and device.index is not None:
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout_s))
    info = current()
    logger.info("joined process group: rank %d of %d (%s)", info.rank, info.world_size, backend)
    return info


def current() -> DistInfo:
    """The current rank, world size, local rank and backend (rank 0 of 1 without a group)."""
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, dist.get_backend())
    return DistInfo(local_rank=local_rank)


def launch_rank() -> int:
    """The rank torchrun assigned to this process (0 without torchrun), before any group is joined."""
    return int(os.environ.get("RANK", 0))


def rank() -> int:
    return current().rank


def world_size() -> int:
    return current().world_size


def is_main_process() -> bool:
    return current().is_main


def barrier() -> None:
    """Wait for every rank (no-op without a process group)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    """Leave the process group if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def exit_rank(status: int = 0) -> NoReturn:
    """End a rank's process without interpreter finalisation, once its work is done and its group left
    (:func:`shutdown`); rank scripts end with it, as the ``infd`` command does under torchrun.

    Under load, gloo's C++ threads can still be torn down during finalisation (static destructors),
    which aborts the process (``terminate called without an active exception``, exit -6) after it
    succeeded, and the launcher then reports the rank as failed. Output is flushed and logging shut
    down first; files must be closed before.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe: nothing to save
            stream.flush()
    logging.shutdown()
    os._exit(status)


def shard(items: int, info: DistInfo | None = None) -> range:
    """The indices of ``range(items)`` this rank takes (round robin, disjoint across ranks)."""
    info = info or current()
    return range(info.rank, items, info.world_size)


def gather_lists(items: list[Any]) -> list[Any]:
    """Every rank's ``items`` (picklable: paths, names) concatenated in rank order, on every rank."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(items)
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, list(items))
    return [item for part in gathered for item in part]
