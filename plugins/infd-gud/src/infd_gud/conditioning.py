"""The sampler-side view of the GUD network: a :class:`~infd_samplers.Denoiser` conditioned on γ(t)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from infd_measures.componentwise import ComponentwiseSchedule
from infd_samplers import Denoiser


def gamma_input(schedule: ComponentwiseSchedule) -> Callable[[torch.Tensor], torch.Tensor]:
    """Maps the sampler's times ``(B,)`` to the noising-state vectors γ(t) ``(B, D)``."""

    def time_to_gamma(t: torch.Tensor) -> torch.Tensor:
        return schedule.gamma(t.to(torch.float64)).to(torch.float32)

    return time_to_gamma


def gamma_denoiser(model: nn.Module, schedule: ComponentwiseSchedule) -> Denoiser:
    """An ε-predicting denoiser whose model sees the full γ vector instead of t."""
    return Denoiser(model, "eps", time_input=gamma_input(schedule))


__all__ = ["gamma_denoiser", "gamma_input"]
