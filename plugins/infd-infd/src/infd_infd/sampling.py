"""Sampling latents z with DDIM (infd-samplers), optionally with DPS guidance, one generator per sample."""

from __future__ import annotations

from typing import Any

import torch

from infd_core import draws
from infd_measures.discrete import DiscreteSchedule
from infd_samplers import Denoiser, ddim


def sample_latents(
    model: torch.nn.Module,
    schedule: DiscreteSchedule,
    shape: tuple[int, int, int],
    generators: list[torch.Generator],
    *,
    steps: int,
    eta: float,
    guidance: Any = None,
    callback: Any = None,
) -> torch.Tensor:
    """Scaled latents ``(B, *shape)``: x_T ~ N(0, I) from each sample's generator, then DDIM with ε̂."""
    device = next(model.parameters()).device
    x_t = torch.stack([draws.randn(shape, g, device=device) for g in generators])
    denoiser = Denoiser(model, "eps")
    context = torch.no_grad() if guidance is None else torch.enable_grad()
    with context:
        z = ddim(
            denoiser,
            x_t,
            schedule,
            steps,
            generator=generators,
            eta=eta,
            guidance=guidance,
            callback=callback,
        )
    return z.detach()
