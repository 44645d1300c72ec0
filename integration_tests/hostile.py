"""Run the installed ``infd`` command as a careless or hostile user would, under bounded time and memory.

``run_capped`` starts the console script in a subprocess with an address-space cap (RLIMIT_AS) and a
wall-clock timeout; ``assert_one_line_error`` checks the exit status, that no traceback was printed and
that the error is a single line naming the cause; ``snapshot``/``assert_nothing_left`` check that a
refused command left no file or folder behind.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from cli_helpers import BIN

#: address-space cap for a hostile case: torch and its libraries map ~2-3 GiB of virtual memory at import
DEFAULT_MEMORY_CAP = 6 << 30
DEFAULT_TIMEOUT = 120.0


@dataclasses.dataclass
class CappedResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def last_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def _cap(memory: int):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return limit


def run_capped(
    *args: str,
    cwd: Path | str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    memory: int = DEFAULT_MEMORY_CAP,
    env: dict[str, str] | None = None,
) -> CappedResult:
    """Run ``infd *args`` with an RLIMIT_AS of ``memory`` bytes; a timeout fails the test."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    start = time.perf_counter()
    result = subprocess.run(
        [str(BIN / "infd"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=environment,
        preexec_fn=_cap(memory),
    )
    seconds = time.perf_counter() - start
    return CappedResult(tuple(args), result.returncode, result.stdout, result.stderr, seconds)


def assert_one_line_error(result: CappedResult, code: int, *fragments: str) -> None:
    """Exit ``code``, no traceback, and an ``error:`` line containing every fragment (case-insensitive)."""
    where = f"infd {' '.join(result.args)}\nexit {result.returncode}\nstderr:\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr, where
    assert result.returncode == code, where
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.lower().startswith(("error", "infd: error"))]
    assert len(errors) == 1, where
    for fragment in fragments:
        assert fragment.lower() in errors[0].lower(), where


def snapshot(*folders: Path) -> set[Path]:
    """Every path under ``folders`` (to compare before and after a refused command)."""
    return {path for folder in folders if folder.exists() for path in [folder, *folder.rglob("*")]}


def assert_nothing_left(before: set[Path], *folders: Path) -> None:
    added = snapshot(*folders) - before
    assert not added, f"left behind: {sorted(map(str, added))}"


def paths(values: Sequence[Path]) -> list[str]:
    return [str(value) for value in values]
