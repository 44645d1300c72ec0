"""Machinery shared by every sampler: input checks, one denoiser evaluation, and finishing a step
(guidance, the NaN check, the callback)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from infd_samplers.denoiser import Denoiser, Model, Prediction, as_denoiser
from infd_samplers.errors import NonFiniteError, SamplerInputError
from infd_samplers.guidance import Guidance, GuidanceLike, GuidanceStep, apply_guidance, as_guidance_list
from infd_samplers.noise import Generators, NoiseFn, white_noise
from infd_samplers.progress import SamplerStep, StepCallback
from infd_samplers.schedule_view import ScheduleView, TimeValue


@dataclass
class Run:
    """The constants of one sampler call."""

    denoiser: Denoiser
    view: ScheduleView
    cond: Mapping[str, Any]
    guidances: list[Guidance]
    generator: Generators | None
    noise: NoiseFn
    callback: StepCallback | None

    @property
    def needs_grad(self) -> bool:
        return any(g.needs_grad for g in self.guidances)


def start_run(
    denoiser: Denoiser | Model,
    x: torch.Tensor,
    schedule: Any,
    *,
    parameterisation: str | None,
    generator: Generators | None,
    callback: StepCallback | None,
    guidance: GuidanceLike,
    noise: NoiseFn | None,
    cond: Mapping[str, Any] | None,
) -> Run:
    """Check the common arguments and bundle them."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise SamplerInputError("the initial state must be a floating-point tensor (batch first)")
    if not bool(torch.isfinite(x).all()):
        raise SamplerInputError("the initial state contains NaN or inf")
    if callback is not None and not callable(callback):
        raise SamplerInputError("callback must be callable")
    if cond is not None and not isinstance(cond, Mapping):
        raise SamplerInputError("cond must be a mapping of keyword arguments for the denoiser")
    return Run(
        denoiser=as_denoiser(denoiser, parameterisation),
        view=ScheduleView(schedule, x),
        cond=dict(cond or {}),
        guidances=as_guidance_list(guidance),
        generator=generator,
        noise=white_noise if noise is None else noise,
        callback=callback,
    )


def check_finite(tensor: torch.Tensor, what: str, index: int, t: TimeValue) -> None:
    """Raise :class:`NonFiniteError` naming the step and time when ``tensor`` holds NaN or inf."""
    if not bool(torch.isfinite(tensor).all()):
        kind = "NaN" if bool(torch.isnan(tensor).any()) else "inf"
        raise NonFiniteError(f"{what} {kind} at step {index} (t = {float(t):.6g})", step=index, t=float(t))


def evaluate(
    run: Run, x: torch.Tensor, t: TimeValue, index: int, *, grad: bool = False
) -> tuple[torch.Tensor, Prediction]:
    """The denoiser at state ``x``, time ``t``: returns the input (requiring grad if ``grad``) and the
    prediction (carrying the graph from it if ``grad``)."""
    view = run.view
    alpha, sigma = view.cast(view.alpha(t)), view.cast(view.sigma(t))
    x_in = x.detach().requires_grad_(True) if grad else x
    with torch.enable_grad() if grad else torch.no_grad():
        prediction = run.denoiser.predict(x_in, view.model_time(t, x.shape[0]), alpha, sigma, run.cond)
    check_finite(prediction.raw.detach(), "the denoiser returned", index, t)
    return x_in, prediction


def finish_step(
    run: Run,
    *,
    index: int,
    total: int | None,
    t: TimeValue,
    t_next: TimeValue,
    x_in: torch.Tensor,
    prediction: Prediction,
    x_next: torch.Tensor,
) -> torch.Tensor:
    """Apply guidance, check the new state and report it; returns the (detached) next state."""
    if run.guidances:
        view = run.view
        step = GuidanceStep(
            index=index,
            total=total,
            t=float(t),
            t_next=float(t_next),
            x_t=x_in,
            prediction=prediction,
            x_next=x_next.detach(),
            alpha_next=view.cast(view.alpha(t_next)),
            sigma_next=view.cast(view.sigma(t_next)),
            generator=run.generator,
            noise=run.noise,
        )
        x_next = apply_guidance(run.guidances, step)
    x_next = x_next.detach()
    check_finite(x_next, "the state became", index, t_next)
    if run.callback is not None:
        detached = prediction.detach()
        run.callback(SamplerStep(index, total, float(t_next), x_next, detached.raw, detached.x0))
    return x_next


__all__ = ["Run", "check_finite", "evaluate", "finish_step", "start_run"]
