"""Test helper: start ``world_size`` local ranks by hand with the torchrun environment on a free port.

``torchrun --standalone`` (``infd ... --nproc``) needs none of this; tests that check a worker script rank
by rank do. The port is chosen just before the ranks start, so another process may take it meanwhile:
when a rank fails with "address already in use", the whole group is started again on a new port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any

from infd_core.distributed import TORCHRUN_VARS

logger = logging.getLogger(__name__)

FAILED_RANK_GRACE_S = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rank_env(base: Mapping[str, str], rank: int, world_size: int, port: int) -> dict[str, str]:
    env = {key: value for key, value in base.items() if key not in TORCHRUN_VARS}
    if world_size > 1:
        env.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    return env


def _start_group(
    command: Sequence[str], world_size: int, env: Mapping[str, str], timeout: float
) -> list[subprocess.CompletedProcess[str]]:
    port = free_port()
    with tempfile.TemporaryDirectory() as logs, contextlib.ExitStack() as stack:
        procs, files = [], []
        for rank in range(world_size):
            out = stack.enter_context(open(os.path.join(logs, f"{rank}.out"), "w+"))
            err = stack.enter_context(open(os.path.join(logs, f"{rank}.err"), "w+"))
            rank_env = _rank_env(env, rank, world_size, port)
            procs.append(subprocess.Popen(list(command), env=rank_env, stdout=out, stderr=err))
            files.append((out, err))
        try:
            codes = _wait_for_group(procs, command, timeout)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        results = []
        for code, (out, err) in zip(codes, files, strict=True):
            out.seek(0)
            err.seek(0)
            results.append(subprocess.CompletedProcess(list(command), code, out.read(), err.read()))
        return results


def _wait_for_group(procs: list[subprocess.Popen[Any]], command: Sequence[str], timeout: float) -> list[int]:
    """Exit codes of every rank; once one fails, the others get ``FAILED_RANK_GRACE_S`` before a kill
    (they would otherwise wait for it until their own timeouts)."""
    deadline = time.monotonic() + timeout
    while any(proc.poll() is None for proc in procs):
        if any(proc.returncode for proc in procs):
            deadline = min(deadline, time.monotonic() + FAILED_RANK_GRACE_S)
            if time.monotonic() > deadline:
                break
        elif time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(list(command), timeout)
        time.sleep(0.02)
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    return [proc.wait() for proc in procs]


def run_local_ranks(
    command: Sequence[str],
    world_size: int,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    attempts: int = 3,
) -> list[subprocess.CompletedProcess[str]]:
    """Run ``command`` once per rank (``world_size`` 1: a plain process) and return each rank's result."""
    base = dict(os.environ if env is None else env)
    attempt = 1
    while True:
        results = _start_group(command, world_size, base, timeout)
        clash = any(r.returncode and "address already in use" in r.stderr.lower() for r in results)
        if not clash or attempt >= attempts:
            return results
        logger.warning("rendezvous port was taken (attempt %d of %d); starting again", attempt, attempts)
        attempt += 1


def check_ranks(results: Sequence[subprocess.CompletedProcess[str]]) -> None:
    """Raise ``AssertionError`` with every failed rank's stderr unless all ranks exited with 0."""
    failed = [f"rank {i} exited {r.returncode}:\n{r.stderr}" for i, r in enumerate(results) if r.returncode]
    if failed:
        raise AssertionError("\n".join(failed))
