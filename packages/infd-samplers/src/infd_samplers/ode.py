"""The probability-flow ODE of a VP diffusion, dx/dt = -½ β(t) ⊙ (x + ∇ log p_t(x)) = -½ β ⊙ (x - ε̂/σ),
with per-component β_i(t), σ_i(t) for GUD schedules (GUD eq. 25) and ε̂ = Tξ̂ for mollified diffusion.

Solvers: ``euler``, ``heun``, ``rk4`` on the time grid, or adaptive ``rk45`` (Dormand–Prince) between the
grid's end points with ``rtol``/``atol`` (the step count then only sets the first step). A step count gives
``linspace(1, t_end, steps + 1)``; t_end > 0 (default 1e-3) keeps ε̂/σ finite for schedules with σ(0) = 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from infd_samplers.denoiser import Denoiser, Model, Prediction
from infd_samplers.grids import StepsLike, time_grid
from infd_samplers.guidance import GuidanceLike
from infd_samplers.noise import Generators, NoiseFn
from infd_samplers.progress import StepCallback
from infd_samplers.solvers import Velocity, check_solver, check_tolerance, dormand_prince, fixed_step
from infd_samplers.stepping import Run, check_finite, evaluate, finish_step, start_run


def probability_flow_velocity(run: Run, record: dict[str, Prediction] | None = None) -> Velocity:
    """dx/dt of the probability-flow ODE for ``run``'s denoiser and schedule (records the last prediction)."""
    view = run.view
    view.require_continuous("the probability-flow ODE")

    def velocity(t: float, x: torch.Tensor, index: int) -> torch.Tensor:
        _, prediction = evaluate(run, x, t, index)
        if record is not None:
            record["last"] = prediction
        beta, sigma = view.cast(view.beta(t)), view.cast(view.sigma(t))
        return -0.5 * beta * (x - prediction.eps / sigma)

    return velocity


def integrate(
    run: Run,
    x: torch.Tensor,
    grid: list[float],
    *,
    solver: str,
    rtol: float,
    atol: float,
    max_steps: int = 10_000,
) -> torch.Tensor:
    """Integrate the probability-flow ODE of ``run`` along ``grid`` (either direction)."""
    check_solver(solver)
    rtol, atol = check_tolerance("rtol", rtol), check_tolerance("atol", atol)
    record: dict[str, Prediction] = {}
    velocity = probability_flow_velocity(run, record)
    total = len(grid) - 1 if solver != "rk45" else None

    def on_step(index: int, t: float, s: float, x_start: torch.Tensor, x_end: torch.Tensor) -> torch.Tensor:
        if not run.guidances:
            if run.callback is not None:  # report only: the state is unchanged (no re-evaluation in rk45)
                finish_step(
                    run,
                    index=index,
                    total=total,
                    t=t,
                    t_next=s,
                    x_in=x_start,
                    prediction=record["last"],
                    x_next=x_end,
                )
            else:
                check_finite(x_end, "the state became", index, s)
            return x_end
        x_in, prediction = evaluate(run, x_start, t, index, grad=run.needs_grad)
        return finish_step(
            run, index=index, total=total, t=t, t_next=s, x_in=x_in, prediction=prediction, x_next=x_end
        )

    if solver == "rk45":
        first = abs(grid[0] - grid[-1]) / (len(grid) - 1)
        return dormand_prince(
            velocity,
            x,
            grid[0],
            grid[-1],
            rtol=rtol,
            atol=atol,
            first_step=first,
            max_steps=max_steps,
            on_step=on_step,
        )
    return fixed_step(velocity, x, grid, solver, on_step)


def probability_flow(
    denoiser: Denoiser | Model,
    x: torch.Tensor,
    schedule: Any,
    steps: StepsLike,
    *,
    generator: Generators | None = None,
    callback: StepCallback | None = None,
    guidance: GuidanceLike = None,
    parameterisation: str | None = None,
    solver: str = "heun",
    rtol: float = 1e-5,
    atol: float = 1e-5,
    noise: NoiseFn | None = None,
    cond: Mapping[str, Any] | None = None,
    t_end: float = 1e-3,
) -> torch.Tensor:
    """Sample by integrating the probability-flow ODE down a decreasing grid (deterministic unless a
    guidance draws noise, which then uses ``generator``)."""
    run = start_run(
        denoiser,
        x,
        schedule,
        parameterisation=parameterisation,
        generator=generator,
        callback=callback,
        guidance=guidance,
        noise=noise,
        cond=cond,
    )
    grid = time_grid(run.view, steps, t_end=t_end)
    return integrate(run, x, [float(t) for t in grid], solver=solver, rtol=rtol, atol=atol)


def probability_flow_encode(
    denoiser: Denoiser | Model,
    x: torch.Tensor,
    schedule: Any,
    steps: StepsLike,
    *,
    generator: Generators | None = None,
    callback: StepCallback | None = None,
    parameterisation: str | None = None,
    solver: str = "heun",
    rtol: float = 1e-5,
    atol: float = 1e-5,
    cond: Mapping[str, Any] | None = None,
    t_end: float = 1e-3,
) -> torch.Tensor:
    """Encode: integrate the probability-flow ODE up an increasing grid (``t_end`` to 1 for a step count),
    the inverse of :func:`probability_flow` up to solver error."""
    del generator
    run = start_run(
        denoiser,
        x,
        schedule,
        parameterisation=parameterisation,
        generator=None,
        callback=callback,
        guidance=None,
        noise=None,
        cond=cond,
    )
    run.view.require_continuous("probability_flow_encode (use ddim_invert for discrete schedules)")
    grid = time_grid(run.view, steps, t_end=t_end, increasing=True)
    return integrate(run, x, [float(t) for t in grid], solver=solver, rtol=rtol, atol=atol)


__all__ = ["integrate", "probability_flow", "probability_flow_encode", "probability_flow_velocity"]
