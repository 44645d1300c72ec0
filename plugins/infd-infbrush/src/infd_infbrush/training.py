"""One ∞-Brush training loss as a module call, and the per-sample condition-dropout draws.

Data-parallel training (``infd_core.ddp``) needs every draw of global sample ``k`` of step ``s`` to come
from that sample's own generator, whoever computes it: the noise, time and points (infd-inftydiff's
``make_batch`` with ``samples``) and here whether its condition is dropped (``(seed, "condition-drop",
s, "sample", k)``). The loss module runs the condition embedding and the denoiser in one call, so DDP
sees every parameter the step uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
from torch import nn

from infd_core.ddp import sample_generators
from infd_infbrush.denoiser import InfBrushDenoiser
from infd_inftydiff import TrainingBatch
from infd_measures.discrete import DiscreteSchedule


def condition_drops(seed: int, step: int, samples: Sequence[int], probability: float) -> torch.Tensor:
    """``[len(samples)]`` booleans: whether each global sample's condition is replaced by the null one."""
    generators = sample_generators(seed, step, samples, stream="condition-drop")
    return torch.cat([torch.rand(1, generator=g) for g in generators]) < probability


def eq14_weights(schedule: DiscreteSchedule) -> torch.Tensor:
    """``[T + 1]`` float64: ∞-Brush eq. 14's λ_t = β_t² / (2 β̃_t (1 − β_t)(1 − ᾱ_t)) for t = 1 … T, with
    β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t); β̃_1 = 0 is clipped to β̃_2 (as DDPM's posterior variance
    usually is). Scaled to mean 1 over t (a constant factor leaves the minimiser unchanged and keeps the
    learning rate meaningful); index 0 is unused."""
    betas = schedule.betas
    bars = schedule.alpha_bars  # ᾱ_0 = 1, ..., ᾱ_T
    posterior = betas * (1 - bars[:-1]) / (1 - bars[1:])
    if len(posterior) > 1:
        posterior[0] = posterior[1]
    else:
        posterior[0] = betas[0]
    weights = betas**2 / (2 * posterior * (1 - betas) * (1 - bars[1:]))
    return torch.cat([weights.new_zeros(1), weights / weights.mean()])


class BrushTrainingLoss(nn.Module):
    """Mean squared error of the conditional denoiser's prediction of Tξ at the sampled points, each
    sample weighted by ``weights[t]`` (eq. 14's λ_t: :func:`eq14_weights`; none: uniform)."""

    def __init__(self, model: InfBrushDenoiser, amp: bool, weights: torch.Tensor | None = None) -> None:
        super().__init__()
        self.model, self.amp, self.weights = model, amp, weights

    def forward(
        self, batch: TrainingBatch, condition: torch.Tensor, drop: torch.Tensor | None
    ) -> torch.Tensor:
        tokens = self.model.condition_tokens(condition, drop)
        device = batch.noisy.device
        use_amp = self.amp and device.type == "cuda"
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else contextlib.nullcontext()
        with autocast:
            prediction = self.model(batch.noisy, batch.points, batch.t, tokens)
        error = (prediction.float() - batch.target) ** 2
        if self.weights is None:
            return torch.mean(error)
        steps = len(self.weights) - 1
        per_sample = self.weights.to(error.device)[(batch.t * steps).round().long()].to(error.dtype)
        return torch.mean(error * per_sample[batch.points.batch][:, None])


__all__ = ["BrushTrainingLoss", "condition_drops", "eq14_weights"]
