"""The reverse-time SDE of a VP diffusion, dx = [-½ β x - β ∇ log p_t(x)] dt + √β dw̄, integrated with
Euler–Maruyama down a time grid (GUD's reference: dt = 0.01, per-component β_i, prior N(0, I)).

With ∇ log p_t = -ε̂/σ, a step from t to s = t - h reads x_s = x_t + h β ⊙ (½ x_t - ε̂/σ) + √(β h) ⊙ n, with
n from ``noise`` (white, or Tξ for mollified diffusion, where ε̂ = Tξ̂ and the score is preconditioned by TT*).
A step count gives ``linspace(1, t_end, steps + 1)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import torch

from infd_samplers.denoiser import Denoiser, Model
from infd_samplers.grids import StepsLike, time_grid
from infd_samplers.guidance import GuidanceLike
from infd_samplers.noise import Generators, NoiseFn, draw, require_generator
from infd_samplers.progress import StepCallback
from infd_samplers.stepping import evaluate, finish_step, start_run


def reverse_sde(
    denoiser: Denoiser | Model,
    x: torch.Tensor,
    schedule: Any,
    steps: StepsLike,
    *,
    generator: Generators,
    callback: StepCallback | None = None,
    guidance: GuidanceLike = None,
    parameterisation: str | None = None,
    noise: NoiseFn | None = None,
    cond: Mapping[str, Any] | None = None,
    t_end: float = 1e-3,
) -> torch.Tensor:
    """Euler–Maruyama sampling of the reverse SDE from ``x`` (the state at the first grid time)."""
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
    generator = require_generator(generator, "reverse_sde")
    view = run.view
    view.require_continuous("reverse_sde")
    grid = time_grid(view, steps, t_end=t_end)
    total = len(grid) - 1
    for index, (t, s) in enumerate(itertools.pairwise(grid)):
        x_in, prediction = evaluate(run, x, t, index, grad=run.needs_grad)
        h = float(t) - float(s)
        beta, sigma = view.cast(view.beta(t)), view.cast(view.sigma(t))
        drift = beta * (0.5 * x - prediction.eps.detach() / sigma)
        x_next = x + h * drift + (beta * h).sqrt() * draw(run.noise, x, generator)
        x = finish_step(
            run, index=index, total=total, t=t, t_next=s, x_in=x_in, prediction=prediction, x_next=x_next
        )
    return x


__all__ = ["reverse_sde"]
