"""Generic ODE integrators for dy/dt = f(t, y): Euler, Heun, classical RK4 on a given grid, and adaptive
Dormand–Prince RK45 (5th-order solution, embedded 4th-order error estimate, FSAL) with rtol/atol.

``f(t, y, index)`` gets the index of the step it belongs to (for error messages); ``on_step(index, t, s,
y_start, y_end)`` runs after each (accepted) step and returns the state to continue from.
Adaptive step control uses one error norm for the whole tensor, so the batch shares its step sizes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch

from infd_samplers.errors import SamplerInputError

Velocity = Callable[[float, torch.Tensor, int], torch.Tensor]
OnStep = Callable[[int, float, float, torch.Tensor, torch.Tensor], torch.Tensor]
FIXED_STEP_SOLVERS = ("euler", "heun", "rk4")
SOLVERS = (*FIXED_STEP_SOLVERS, "rk45")

# Dormand–Prince tableau (c_i, a_ij), 5th-order weights b and the error weights b - b* (4th order).
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0)
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
)
_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)
_E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)


def check_solver(solver: str) -> str:
    if solver not in SOLVERS:
        raise SamplerInputError(f"unknown solver {solver!r}; available: {', '.join(SOLVERS)}")
    return solver


def check_tolerance(name: str, value: float) -> float:
    try:
        tol = float(value)
    except (TypeError, ValueError):
        raise SamplerInputError(f"{name} must be a positive number, got {value!r}") from None
    if not tol > 0 or tol != tol or tol == float("inf"):
        raise SamplerInputError(f"{name} must be a positive finite number, got {value}")
    return tol


def fixed_step(
    f: Velocity, y: torch.Tensor, grid: Sequence[float], method: str, on_step: OnStep | None = None
) -> torch.Tensor:
    """Integrate along ``grid`` (any direction) with ``euler``, ``heun`` or ``rk4``."""
    if method not in FIXED_STEP_SOLVERS:
        raise SamplerInputError(f"{method!r} is not a fixed-step solver ({', '.join(FIXED_STEP_SOLVERS)})")
    for index, (t, s) in enumerate(itertools.pairwise(grid)):
        h = s - t
        k1 = f(t, y, index)
        if method == "euler":
            y_next = y + h * k1
        elif method == "heun":
            k2 = f(s, y + h * k1, index)
            y_next = y + 0.5 * h * (k1 + k2)
        else:
            k2 = f(t + 0.5 * h, y + 0.5 * h * k1, index)
            k3 = f(t + 0.5 * h, y + 0.5 * h * k2, index)
            k4 = f(s, y + h * k3, index)
            y_next = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        y = y_next if on_step is None else on_step(index, t, s, y, y_next)
    return y


def dormand_prince(
    f: Velocity,
    y: torch.Tensor,
    t0: float,
    t1: float,
    *,
    rtol: float,
    atol: float,
    first_step: float,
    max_steps: int = 10_000,
    on_step: OnStep | None = None,
) -> torch.Tensor:
    """Adaptive RK45 from ``t0`` to ``t1`` (either direction); ``first_step`` is the initial |h|."""
    rtol, atol = check_tolerance("rtol", rtol), check_tolerance("atol", atol)
    span = t1 - t0
    if span == 0:
        return y
    direction = 1.0 if span > 0 else -1.0
    h = direction * min(abs(first_step), abs(span))
    t, accepted, tries = t0, 0, 0
    k1 = f(t, y, accepted)
    while direction * (t1 - t) > 1e-12 * max(1.0, abs(t1)):
        if tries >= max_steps:
            raise SamplerInputError(
                f"rk45 needed more than {max_steps} steps between t = {t0} and {t1}; loosen rtol/atol "
                "or use a fixed-step solver"
            )
        tries += 1
        if direction * (t + h - t1) > 0:
            h = t1 - t
        stages = [k1]
        for c, row in zip(_C[1:], _A[1:], strict=True):
            increment = sum(
                (a * k for a, k in zip(row, stages, strict=False) if a != 0.0), torch.zeros_like(y)
            )
            stages.append(f(t + c * h, y + h * increment, accepted))
        y_next = y + h * sum(
            (b * k for b, k in zip(_B, stages, strict=True) if b != 0.0), torch.zeros_like(y)
        )
        k_last = f(t + h, y_next, accepted)
        error = h * sum(
            (e * k for e, k in zip(_E, [*stages, k_last], strict=True) if e != 0.0), torch.zeros_like(y)
        )
        scale = atol + rtol * torch.maximum(y.abs(), y_next.abs())
        norm = float((error / scale).pow(2).mean().sqrt())
        if norm <= 1.0 or abs(h) < 1e-10:
            s = t + h
            y_start, y = y, y_next
            if on_step is not None:
                y = on_step(accepted, t, s, y_start, y_next)
                k_last = k_last if y is y_next else f(s, y, accepted + 1)
            t, k1 = s, k_last
            accepted += 1
        factor = 5.0 if norm == 0.0 else min(5.0, max(0.2, 0.9 * norm ** (-0.2)))
        h = h * factor
    return y


__all__ = ["FIXED_STEP_SOLVERS", "SOLVERS", "check_solver", "check_tolerance", "dormand_prince", "fixed_step"]
