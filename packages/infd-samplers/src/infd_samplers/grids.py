"""Time grids: a step count or an explicit strictly monotone sequence of times.

* Discrete schedules (``DiscreteSchedule``, steps k = 0..T): ``steps=n`` gives n + 1 evenly spaced integer
  steps from T down to 0 (n ≤ T); an explicit grid is any strictly decreasing sub-sequence of 0..T, to
  which the clean end point 0 is appended when missing (so ``[999, 899, ..., 99]`` works as DDIM's τ).
* Continuous schedules (t in [0, 1]): ``steps=n`` gives ``linspace(t_start, t_end, n + 1)``; an explicit
  grid (at least two times in [0, 1], strictly monotone) is used as given.

Encoders (``probability_flow_encode``, ``ddim_invert``) take increasing grids; samplers decreasing ones.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch

from infd_samplers.errors import SamplerInputError
from infd_samplers.schedule_view import ScheduleView

StepsLike = int | Sequence[float] | Sequence[int] | torch.Tensor


def _values(steps: object) -> list[float]:
    try:
        tensor = torch.as_tensor(steps, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise SamplerInputError(
            f"steps must be a positive int or a sequence of times, got {steps!r}"
        ) from None
    if tensor.dim() != 1:
        raise SamplerInputError(
            f"steps must be a positive int or a one-dimensional sequence of times, got {steps!r}"
        )
    return [float(v) for v in tensor.tolist()]


def _check_count(steps: object) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise SamplerInputError(f"steps must be a positive int or a sequence of times, got {steps!r}")
    if steps <= 0:
        raise SamplerInputError(f"steps must be a positive int, got {steps}")
    return steps


def _check_monotone(values: list[float], increasing: bool) -> None:
    if len(values) < 2:
        raise SamplerInputError(f"a time grid needs at least two times, got {values}")
    pairs = itertools.pairwise(values)
    ok = all(b > a for a, b in pairs) if increasing else all(b < a for a, b in pairs)
    if not ok:
        direction = "increasing" if increasing else "decreasing"
        raise SamplerInputError(f"the time grid must be strictly {direction}, got {values}")


def _is_count(steps: object) -> bool:
    return isinstance(steps, int) and not isinstance(steps, bool)


def discrete_grid(num_steps: int, steps: StepsLike, *, increasing: bool = False) -> list[int]:
    """Integer steps of a T-step schedule (see the module docstring)."""
    if _is_count(steps):
        count = _check_count(steps)
        if count > num_steps:
            raise SamplerInputError(f"steps={count} exceeds the schedule's {num_steps} steps")
        grid = [(num_steps * (count - i) + count // 2) // count for i in range(count + 1)]  # T .. 0
        return grid[::-1] if increasing else grid
    if isinstance(steps, bool):
        raise SamplerInputError(f"steps must be a positive int or a sequence of times, got {steps!r}")
    values = _values(steps)
    if not values or any(not math.isfinite(v) or v != math.floor(v) for v in values):
        raise SamplerInputError(f"a discrete schedule takes a non-empty grid of integer steps, got {values}")
    grid = [int(v) for v in values]
    if min(grid) < 0 or max(grid) > num_steps:
        raise SamplerInputError(
            f"grid steps must lie in [0, {num_steps}] for this {num_steps}-step schedule, got {grid}"
        )
    if increasing and grid[0] != 0:
        grid = [0, *grid]
    elif not increasing and grid[-1] != 0:
        grid = [*grid, 0]
    _check_monotone([float(k) for k in grid], increasing)
    return grid


def continuous_grid(
    steps: StepsLike, *, t_start: float = 1.0, t_end: float = 0.0, increasing: bool = False
) -> list[float]:
    """Times in [0, 1] (see the module docstring); ``t_start``/``t_end`` frame a step count."""
    if _is_count(steps):
        count = _check_count(steps)
        for name, value in (("t_start", t_start), ("t_end", t_end)):
            if not 0.0 <= float(value) <= 1.0:
                raise SamplerInputError(f"{name} must lie in [0, 1], got {value}")
        grid = torch.linspace(float(t_start), float(t_end), count + 1, dtype=torch.float64).tolist()
    else:
        if isinstance(steps, bool):
            raise SamplerInputError(f"steps must be a positive int or a sequence of times, got {steps!r}")
        grid = _values(steps)
        if any(not 0.0 <= v <= 1.0 for v in grid):
            raise SamplerInputError(f"continuous times must lie in [0, 1], got {grid}")
    _check_monotone(grid, increasing)
    return grid


def time_grid(
    view: ScheduleView,
    steps: StepsLike,
    *,
    t_start: float = 1.0,
    t_end: float = 0.0,
    increasing: bool = False,
) -> list[int] | list[float]:
    """The grid of a sampler (decreasing) or an encoder (``increasing=True``) for ``view``'s schedule.

    For encoders a step count runs from ``t_end`` up to ``t_start``.
    """
    if view.discrete:
        return discrete_grid(view.num_steps or 0, steps, increasing=increasing)
    if increasing and _is_count(steps):
        return continuous_grid(steps, t_start=t_end, t_end=t_start, increasing=True)
    return continuous_grid(steps, t_start=t_start, t_end=t_end, increasing=increasing)


__all__ = ["StepsLike", "continuous_grid", "discrete_grid", "time_grid"]
