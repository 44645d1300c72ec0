"""Guidance: corrections applied after every sampler step, given the step's prediction.

* :func:`reconstruction_guidance` (∞-Diff §5, inpainting):
  x_{t-1} ← x_{t-1} - λ ∇_{x_t} ‖m ⊙ (μ̃₀(x_t) - T x̄)‖²
  with μ̃₀ the state-space estimate of T x₀;
* :func:`posterior_sampling` (DPS, Chung et al.): the same gradient step for any differentiable loss of
  x̂₀(x_t) (e.g. INFD §5.5's CLIP layout constraints, through a decoder and renderer), optionally scaled by
  1/√loss per sample (DPS's ζ/‖y - A(x̂₀)‖ for a squared residual);
* :class:`ReplacementConditioning` (function-space diffusion): overwrite the conditioning entries with a
  fresh forward draw α_s y + σ_s n, n from the sampler's noise (e.g. GP noise at those locations), except
  during the last ``free_steps`` steps (soft conditioning).

A guidance is a callable ``guide(step: GuidanceStep) -> x_next`` with a ``needs_grad`` attribute; samplers
accept one or a sequence (applied in order). Observations live in the state space (``T x̄`` for mollified
diffusion, components for GUD).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import torch

from infd_samplers.denoiser import Operator, Prediction
from infd_samplers.errors import SamplerInputError
from infd_samplers.noise import Generators, NoiseFn, draw, require_generator

Loss = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class GuidanceStep:
    """What a guidance sees after step ``index`` (of ``total``) moved the state from ``t`` to ``t_next``.

    ``x_t`` requires grad and ``prediction`` carries the graph from it when the guidance ``needs_grad``.
    ``alpha_next``/``sigma_next`` are the schedule at ``t_next`` (state dtype, broadcastable).
    """

    index: int
    total: int | None
    t: float
    t_next: float
    x_t: torch.Tensor
    prediction: Prediction
    x_next: torch.Tensor
    alpha_next: torch.Tensor
    sigma_next: torch.Tensor
    generator: Generators | None
    noise: NoiseFn


@runtime_checkable
class Guidance(Protocol):
    needs_grad: bool

    def __call__(self, step: GuidanceStep) -> torch.Tensor: ...


GuidanceLike = Guidance | Sequence[Guidance] | None


def as_guidance_list(guidance: GuidanceLike) -> list[Guidance]:
    """``guidance`` as a list (empty for None), each item checked."""
    if guidance is None:
        return []
    items = [guidance] if callable(guidance) else list(guidance)
    for item in items:
        if not callable(item) or not hasattr(item, "needs_grad"):
            raise SamplerInputError(f"guidance must be callable with a needs_grad attribute, got {item!r}")
    return items


def apply_guidance(guidances: list[Guidance], step: GuidanceStep) -> torch.Tensor:
    """Apply each guidance in turn; returns the corrected next state (detached)."""
    x_next = step.x_next
    for guide in guidances:
        x_next = guide(replace(step, x_next=x_next)).detach()
    return x_next


def _per_sample(loss: torch.Tensor, batch: int) -> torch.Tensor:
    if loss.dim() == 0:
        return loss
    if loss.shape != (batch,):
        raise SamplerInputError(
            f"a guidance loss must be a scalar or one value per sample, got {tuple(loss.shape)}"
        )
    return loss


class GradientGuidance:
    """x_next ← x_next - scale · ∇_{x_t} loss(x̂₀(x_t)) (÷ √loss per sample when ``normalise``)."""

    needs_grad = True

    def __init__(self, loss: Loss, scale: float, *, normalise: bool = False) -> None:
        if not callable(loss):
            raise SamplerInputError("the guidance loss must be callable")
        if not float(scale) >= 0:
            raise SamplerInputError(f"the guidance scale must be >= 0, got {scale}")
        self.loss, self.scale, self.normalise = loss, float(scale), normalise

    def __call__(self, step: GuidanceStep) -> torch.Tensor:
        if not step.x_t.requires_grad:
            raise SamplerInputError("gradient guidance needs x_t with requires_grad (the sampler sets it)")
        with torch.enable_grad():
            loss = _per_sample(self.loss(step.prediction.x0), step.x_t.shape[0])
            (grad,) = torch.autograd.grad(loss.sum(), step.x_t)
        if self.normalise:
            if loss.dim() == 0:
                raise SamplerInputError("normalised (DPS) guidance needs one loss value per sample")
            norm = loss.detach().clamp_min(1e-12).sqrt()
            grad = grad / norm.reshape(-1, *([1] * (grad.dim() - 1)))
        return step.x_next - self.scale * grad.detach()


def posterior_sampling(loss: Loss, scale: float, *, normalise: bool = True) -> GradientGuidance:
    """Diffusion posterior sampling with a differentiable ``loss(x̂₀) -> (B,)`` (or a scalar)."""
    return GradientGuidance(loss, scale, normalise=normalise)


def reconstruction_guidance(
    mask: torch.Tensor, observation: torch.Tensor, scale: float, *, mollify: Operator | None = None
) -> GradientGuidance:
    """∞-Diff's inpainting guidance: the loss ‖m ⊙ (x̂₀ - T x̄)‖² per sample (T = ``mollify`` or I)."""
    target = observation if mollify is None else mollify(observation)
    weight = mask.to(target.dtype)

    def masked_error(x0: torch.Tensor) -> torch.Tensor:
        residual = weight.to(x0.device) * (x0 - target.to(device=x0.device, dtype=x0.dtype))
        return residual.pow(2).flatten(1).sum(1) if residual.dim() > 1 else residual.pow(2)

    return GradientGuidance(masked_error, scale)


class ReplacementConditioning:
    """Overwrite ``mask``-ed entries with α_s y + σ_s n (function-space diffusion's conditional sampling)."""

    needs_grad = False

    def __init__(
        self,
        mask: torch.Tensor,
        observation: torch.Tensor,
        *,
        free_steps: int = 0,
        noise: NoiseFn | None = None,
    ) -> None:
        if isinstance(free_steps, bool) or not isinstance(free_steps, int) or free_steps < 0:
            raise SamplerInputError(f"free_steps must be a non-negative int, got {free_steps!r}")
        self.mask = mask.to(torch.bool)
        self.observation = observation
        self.free_steps = free_steps
        self.noise = noise

    def __call__(self, step: GuidanceStep) -> torch.Tensor:
        if self.free_steps:
            if step.total is None:
                raise SamplerInputError("free_steps needs a sampler with a fixed number of steps")
            if step.index >= step.total - self.free_steps:
                return step.x_next
        x_next = step.x_next
        generator = require_generator(step.generator, "replacement conditioning")
        fresh = draw(self.noise or step.noise, x_next, generator)
        observation = self.observation.to(device=x_next.device, dtype=x_next.dtype)
        forward = step.alpha_next * observation + step.sigma_next * fresh
        return torch.where(self.mask.to(x_next.device), forward, x_next)


__all__ = [
    "GradientGuidance",
    "Guidance",
    "GuidanceLike",
    "GuidanceStep",
    "ReplacementConditioning",
    "apply_guidance",
    "as_guidance_list",
    "posterior_sampling",
    "reconstruction_guidance",
]
