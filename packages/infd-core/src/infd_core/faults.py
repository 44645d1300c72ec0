"""Fault injection for tests of distributed runs: make one rank fail at a chosen point.

``INFD_FAIL_AT=POINT:RANK:COUNT`` (e.g. ``tile:1:2``) makes rank ``RANK`` raise :class:`InjectedFault`
when :func:`fault_point` is reached for the ``COUNT``-th time (counting from 0) at ``POINT``;
``POINT:RANK:COUNT:exit`` makes it ``os._exit(17)`` instead, as a crash would, and ``POINT:RANK:COUNT:kill``
sends it SIGKILL (``kill -9``: no clean-up of any kind runs). Unset, it costs nothing.
"""

from __future__ import annotations

import logging
import os
import signal

from infd_core.distributed import launch_rank

logger = logging.getLogger(__name__)

FAULT_VAR = "INFD_FAIL_AT"
_counts: dict[str, int] = {}


class InjectedFault(RuntimeError):
    """The failure a test asked for through ``INFD_FAIL_AT``."""


def fault_point(point: str) -> None:
    """Count one pass through ``point`` on this rank; fail here if ``INFD_FAIL_AT`` says so."""
    spec = os.environ.get(FAULT_VAR)
    if not spec:
        return
    parts = spec.split(":")
    if len(parts) < 3 or parts[0] != point:
        return
    count = _counts.get(point, 0)
    _counts[point] = count + 1
    if int(parts[1]) != launch_rank() or int(parts[2]) != count:
        return
    message = f"injected failure at {point} #{count} on rank {launch_rank()} ({FAULT_VAR}={spec})"
    logger.error(message)
    if len(parts) > 3 and parts[3] == "exit":
        os._exit(17)
    if len(parts) > 3 and parts[3] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise InjectedFault(message)
