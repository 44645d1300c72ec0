"""``infd train|sample|run --nproc N``: start N ranks of the same command through torchrun.

The launcher runs torchrun's elastic agent in this process (``torch.distributed.run``) with
``--standalone`` (one node, a free rendezvous port) and ``-m infd_core <the same arguments>``; each rank
then joins the process group from torchrun's environment. When a rank exits non-zero, the agent stops
the others at once and the launcher reports which rank failed. For several nodes, call ``torchrun``
yourself with ``-m infd_core``.

Which rank failed *first* is told by the ranks themselves: a failing rank appends its rank and a
nanosecond clock to the file named by ``INFD_FAILURE_LOG`` before it leaves the process group, so a
peer that fails because of it can only write later. (torchelastic's own failure timestamps have a
resolution of one second, too coarse to order ranks that stop together.)
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from infd_core.distributed import launched_by_torchrun
from infd_core.errors import InfdError, UsageError

logger = logging.getLogger(__name__)


class RankFailedError(InfdError):
    """A rank of a launched run exited with an error (the other ranks were stopped)."""

    exit_code = 1


def strip_nproc(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--nproc N`` / ``--nproc=N`` (what each rank is started with)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


FAILURE_LOG_VAR = "INFD_FAILURE_LOG"


def record_failure() -> None:
    """In a launched rank that is failing: append ``"<ns clock> <rank>"`` to the launcher's failure log."""
    path = os.environ.get(FAILURE_LOG_VAR)
    if path and launched_by_torchrun():
        with open(path, "a") as log:  # one short append: whole lines even with several writers
            log.write(f"{time.monotonic_ns()} {os.environ['RANK']}\n")


def first_recorded_failure(path: str) -> int | None:
    """The rank with the earliest entry of a failure log, or None when no rank recorded one."""
    try:
        with open(path) as log:
            entries = [line.split() for line in log if len(line.split()) == 2]
    except OSError:
        return None
    return int(min(entries, key=lambda entry: int(entry[0]))[1]) if entries else None


def torchrun_args(nproc: int, argv: Sequence[str]) -> list[str]:
    """torchrun's arguments for ``nproc`` local ranks of ``infd <argv>``."""
    return ["--standalone", "--nproc_per_node", str(nproc), "-m", "infd_core", *strip_nproc(argv)]


def launch(nproc: int, argv: Sequence[str]) -> None:
    """Run ``infd <argv>`` as ``nproc`` ranks under torchrun and wait; raise if a rank failed."""
    if nproc < 1:
        raise UsageError(f"--nproc must be at least 1, got {nproc}")
    if launched_by_torchrun():
        raise UsageError("--nproc is for starting a run; this process already runs under torchrun")
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    command = torchrun_args(nproc, argv)
    rest = strip_nproc(argv)
    # torchrun's own parser must not see the infd arguments (it would take --num for --numa-binding)
    args = get_args_parser().parse_args(command[: len(command) - len(rest)])
    args.training_script_args = rest
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # N CPU ranks would otherwise oversubscribe cores
    logger.info("launching %d ranks: torchrun %s", nproc, " ".join(torchrun_args(nproc, argv)))
    with tempfile.TemporaryDirectory(prefix="infd-launch-") as scratch:
        failure_log = os.environ[FAILURE_LOG_VAR] = os.path.join(scratch, "failures")
        try:
            run(args)
        except ChildFailedError as exc:
            first = first_recorded_failure(failure_log)
            _raise_rank_failed(exc, nproc, first)
        finally:
            del os.environ[FAILURE_LOG_VAR]


def _raise_rank_failed(exc: Any, nproc: int, first: int | None) -> None:
    """``RankFailedError`` naming the first failed rank (the agent's guess when none recorded one)."""
    rank, failure = exc.get_first_failure()
    if first is not None and first in exc.failures:
        rank, failure = first, exc.failures[first]
    others = sorted(r for r in exc.failures if r != rank)
    names = ", ".join(str(r) for r in others)
    detail = f" (rank {names} then failed too)" if others else ""
    raise RankFailedError(
        f"rank {rank} of {nproc} failed first (exit code {failure.exitcode}), its error is printed "
        f"above; the other ranks were stopped{detail}"
    ) from None


__all__ = [
    "RankFailedError",
    "first_recorded_failure",
    "launch",
    "record_failure",
    "strip_nproc",
    "torchrun_args",
]
