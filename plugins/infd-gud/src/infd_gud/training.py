"""Denoising score matching in the chosen basis (GUD eq. 12) and the EMA of the weights.

With the score s_i = -ε̂_i/σ_i, the weighting λ_i = σ_i² turns Σ_i λ_i |s_i - ∇ log p(z_i(t) | z_i(0))|² into
Σ_i |ε̂_i - ε_i|²; the loss is written in that (numerically safe) form and averaged over components.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from infd_measures.componentwise import ComponentwiseSchedule, noise_components


def stratified_times(batch: int, generator: torch.Generator, t_min: float = 0.0) -> torch.Tensor:
    """One time per sample, uniform in [t_min, 1] and stratified over the batch, in float64."""
    u = torch.arange(batch, dtype=torch.float64) + torch.rand(batch, generator=generator, dtype=torch.float64)
    return t_min + (1.0 - t_min) * u / batch


def sample_draws(
    generators: Sequence[torch.Generator],
    indices: Sequence[int],
    global_batch: int,
    num_items: int,
    state_shape: tuple[int, int],
    t_min: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample draws of global samples ``indices`` (sample k from ``generators[k]`` only): the
    data item, a time stratified over the global batch (sample k in its k-th stratum of
    [t_min, 1]) and the noise ``state_shape``. The same sample draws the same, whoever draws it."""
    items, times, noise = [], [], []
    for k, generator in zip(indices, generators, strict=True):
        items.append(int(torch.randint(0, num_items, (1,), generator=generator)))
        u = torch.rand(1, generator=generator, dtype=torch.float64)
        times.append(t_min + (1.0 - t_min) * (k + u) / global_batch)
        noise.append(torch.randn(state_shape, generator=generator))
    return torch.tensor(items), torch.cat(times), torch.stack(noise)


def score_matching_loss(
    model: nn.Module,
    z0: torch.Tensor,
    schedule: ComponentwiseSchedule,
    times: torch.Tensor,
    generator: torch.Generator | None,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. 12 with λ_i = σ_i² for states ``z0`` ``(B, C, D)`` at ``times`` ``(B,)``; model(z_t, γ) -> ε̂.

    The noise ε is ``noise`` when given, else drawn from ``generator``."""
    gamma = schedule.gamma(times).to(z0.dtype)  # (B, D)
    noise = noise.to(z0) if noise is not None else None
    noisy, eps = noise_components(z0, gamma.unsqueeze(1), generator, noise)  # type: ignore[arg-type]
    sigma = torch.sigmoid(gamma).sqrt().unsqueeze(1)
    score_residual = (-model(noisy, gamma) + eps) / sigma  # s_θ - ∇ log p = (ε - ε̂)/σ
    weight = sigma.pow(2)  # λ_i = σ_i²
    return (weight * score_residual.pow(2)).mean()


class EMA:
    """Exponential moving average of a module's parameters and buffers (decay per update)."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        self.decay = float(decay)
        self.module = copy.deepcopy(module).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        for ema, live in zip(self.module.state_dict().values(), module.state_dict().values(), strict=True):
            if ema.dtype.is_floating_point:
                ema.lerp_(live, 1.0 - self.decay)
            else:
                ema.copy_(live)


__all__ = ["EMA", "sample_draws", "score_matching_loss", "stratified_times"]
