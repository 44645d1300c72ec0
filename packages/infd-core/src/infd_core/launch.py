"""``infd train|sample|run --nproc N``: start N ranks of the same command through torchrun.

The launcher runs torchrun's elastic agent in this process (``torch.distributed.run``) with
``--standalone`` (one node, a free rendezvous port) and ``-m infd_core <the same arguments>``; each rank
then joins the process group from torchrun's environment. When a rank exits non-zero, the agent stops
the others at once and the launcher reports which rank failed. For several nodes, call ``torchrun``
yourself with ``-m infd_core``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

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
    try:
        run(args)
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        others = sorted(r for r in exc.failures if r != rank)
        names = ", ".join(str(r) for r in others)
        detail = f" (rank {names} then failed too)" if others else ""
        raise RankFailedError(
            f"rank {rank} of {nproc} failed first (exit code {failure.exitcode}), its error is printed "
            f"above; the other ranks were stopped{detail}"
        ) from None


__all__ = ["RankFailedError", "launch", "strip_nproc", "torchrun_args"]
