"""DDPM ancestral sampling and DDIM (η ∈ [0, 1], any sub-sequence of steps), plus DDIM inversion.

Both work on discrete schedules (integer steps) and on continuous ones (times in [0, 1], including GUD's
per-component γ_i(t)), between consecutive grid points t > s:

* ᾱ_{t|s} = ᾱ_t/ᾱ_s, β_{t|s} = 1 - ᾱ_{t|s}, β̃ = (1 - ᾱ_s)/(1 - ᾱ_t) · β_{t|s};
* DDPM: x_s = μ̃(x̂₀, x_t) + √v · n with μ̃ = √ᾱ_s β_{t|s}/(1 - ᾱ_t) x̂₀ + √ᾱ_{t|s} (1 - ᾱ_s)/(1 - ᾱ_t) x_t and
  v = β̃ (``variance="beta_tilde"``) or β_{t|s} (``"beta"``) — ∞-Diff eq. 29; with a mollifier,
  x̂₀ is T x̂₀ and n = Tξ (eq. 36/40);
* DDIM: x_s = α_s x̂₀ + √(σ_s² - c²) ε̂ + c · n with c = η √β̃.

n comes from ``noise(like, generator)`` (white by default; :func:`~infd_samplers.noise.mollified_noise`
for ∞-Diff). No noise is added on a step that ends at t = 0.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import torch

from infd_samplers.denoiser import Denoiser, Model
from infd_samplers.errors import SamplerInputError
from infd_samplers.grids import StepsLike, time_grid
from infd_samplers.guidance import GuidanceLike
from infd_samplers.noise import Generators, NoiseFn, draw, require_generator
from infd_samplers.progress import StepCallback
from infd_samplers.schedule_view import ScheduleView, TimeValue
from infd_samplers.stepping import evaluate, finish_step, start_run

VARIANCES = ("beta_tilde", "beta")


def transition_coefficients(view: ScheduleView, t: TimeValue, s: TimeValue) -> dict[str, torch.Tensor]:
    """Float64 coefficients of the step t -> s (see the module docstring)."""
    alpha_t, sigma_t, alpha_s, sigma_s = view.alpha(t), view.sigma(t), view.alpha(s), view.sigma(s)
    ratio = (alpha_t / alpha_s) ** 2
    beta_ts = 1.0 - ratio
    var_t = sigma_t**2
    return {
        "alpha_s": alpha_s,
        "sigma_s": sigma_s,
        "coef_x0": alpha_s * beta_ts / var_t,
        "coef_xt": ratio.sqrt() * sigma_s**2 / var_t,
        "beta": beta_ts,
        "beta_tilde": sigma_s**2 / var_t * beta_ts,
    }


def _check_eta(eta: float) -> float:
    try:
        value = float(eta)
    except (TypeError, ValueError):
        raise SamplerInputError(f"eta must be a number in [0, 1], got {eta!r}") from None
    if not 0.0 <= value <= 1.0:
        raise SamplerInputError(f"eta must lie in [0, 1], got {eta}")
    return value


def ddpm(
    denoiser: Denoiser | Model,
    x: torch.Tensor,
    schedule: Any,
    steps: StepsLike,
    *,
    generator: Generators,
    callback: StepCallback | None = None,
    guidance: GuidanceLike = None,
    parameterisation: str | None = None,
    variance: str = "beta_tilde",
    noise: NoiseFn | None = None,
    cond: Mapping[str, Any] | None = None,
    t_end: float = 0.0,
) -> torch.Tensor:
    """Ancestral sampling from ``x`` (the state at the first grid time) down the grid to its end."""
    if variance not in VARIANCES:
        raise SamplerInputError(f"variance must be one of {', '.join(VARIANCES)}, got {variance!r}")
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
    generator = require_generator(generator, "ddpm")
    grid = time_grid(run.view, steps, t_end=t_end)
    total = len(grid) - 1
    for index, (t, s) in enumerate(itertools.pairwise(grid)):
        x_in, prediction = evaluate(run, x, t, index, grad=run.needs_grad)
        c = transition_coefficients(run.view, t, s)
        cast = run.view.cast
        x_next = cast(c["coef_x0"]) * prediction.x0.detach() + cast(c["coef_xt"]) * x
        if s != 0:
            x_next = x_next + cast(c[variance].sqrt()) * draw(run.noise, x, generator)
        x = finish_step(
            run, index=index, total=total, t=t, t_next=s, x_in=x_in, prediction=prediction, x_next=x_next
        )
    return x


def ddim_transition(
    view: ScheduleView, t: TimeValue, s: TimeValue, x0: torch.Tensor, eps: torch.Tensor, eta: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """One DDIM step t → s from the estimates x̂₀ and ε̂: the deterministic part α_s x̂₀ + √(σ_s² − s²) ε̂
    and the standard deviation s = η √β̃ of its fresh noise (in the state's dtype). Elementwise, so a
    state streamed tile by tile takes the same step as a whole one."""
    c = transition_coefficients(view, t, s)
    spread = eta**2 * c["beta_tilde"]
    direction = (c["sigma_s"] ** 2 - spread).clamp_min(0.0).sqrt()
    return view.cast(c["alpha_s"]) * x0 + view.cast(direction) * eps, view.cast(spread.sqrt())


def ddim(
    denoiser: Denoiser | Model,
    x: torch.Tensor,
    schedule: Any,
    steps: StepsLike,
    *,
    generator: Generators | None = None,
    callback: StepCallback | None = None,
    guidance: GuidanceLike = None,
    parameterisation: str | None = None,
    eta: float = 0.0,
    noise: NoiseFn | None = None,
    cond: Mapping[str, Any] | None = None,
    t_end: float = 0.0,
) -> torch.Tensor:
    """DDIM from ``x`` down the grid (deterministic for η = 0; needs ``generator`` for η > 0)."""
    eta = _check_eta(eta)
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
    if eta > 0:
        generator = require_generator(generator, "ddim with eta > 0")
    grid = time_grid(run.view, steps, t_end=t_end)
    total = len(grid) - 1
    for index, (t, s) in enumerate(itertools.pairwise(grid)):
        x_in, prediction = evaluate(run, x, t, index, grad=run.needs_grad)
        x_next, spread = ddim_transition(run.view, t, s, prediction.x0.detach(), prediction.eps.detach(), eta)
        if eta > 0 and s != 0:
            assert generator is not None
            x_next = x_next + spread * draw(run.noise, x, generator)
        x = finish_step(
            run, index=index, total=total, t=t, t_next=s, x_in=x_in, prediction=prediction, x_next=x_next
        )
    return x


def ddim_invert(
    denoiser: Denoiser | Model,
    x: torch.Tensor,
    schedule: Any,
    steps: StepsLike,
    *,
    generator: Generators | None = None,
    callback: StepCallback | None = None,
    parameterisation: str | None = None,
    cond: Mapping[str, Any] | None = None,
    t_end: float = 0.0,
) -> torch.Tensor:
    """Deterministic DDIM encoding up an increasing grid (from ``t_end`` to the noisiest time).

    Each step uses ε̂ at its start, x_s = α_s x̂₀ + σ_s ε̂; a step that starts from a clean state (σ = 0)
    evaluates the denoiser at its end time instead. ``generator`` is unused (kept for the signature).
    """
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
    grid = time_grid(run.view, steps, t_end=t_end, increasing=True)
    total = len(grid) - 1
    for index, (t, s) in enumerate(itertools.pairwise(grid)):
        at = s if bool((run.view.sigma(t) == 0).all()) else t
        x_in, prediction = evaluate(run, x, at, index)
        x0, eps = prediction.x0.detach(), prediction.eps.detach()
        if at != t:  # re-express the estimate at x (clean): keep x̂₀ = x, ε̂ from the prediction at s
            x0 = x
        x_next = run.view.cast(run.view.alpha(s)) * x0 + run.view.cast(run.view.sigma(s)) * eps
        x = finish_step(
            run, index=index, total=total, t=t, t_next=s, x_in=x_in, prediction=prediction, x_next=x_next
        )
    return x


__all__ = ["VARIANCES", "ddim", "ddim_invert", "ddim_transition", "ddpm", "transition_coefficients"]
