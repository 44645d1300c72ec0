"""The small latent DDPM of ∞-Diff's diffusion autoencoder (§5, after Preechakul et al. 2022).

Latents of the training images are standardised with statistics gathered once, and an ε-predicting
residual MLP learns their distribution; unconditional samples draw a latent from it first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from infd_core.seeding import derive_generator
from infd_inftydiff.config import LatentConfig
from infd_inftydiff.denoiser import timestep_embedding
from infd_measures.discrete import DiscreteSchedule
from infd_samplers import ddim


class LatentDenoiser(nn.Module):
    """``forward(z [B, D], t [B] in [0, 1]) -> ε prediction [B, D]``; holds the latent statistics."""

    def __init__(self, latent_dim: int, config: LatentConfig) -> None:
        super().__init__()
        h = config.hidden
        self.register_buffer("mean", torch.zeros(latent_dim))
        self.register_buffer("std", torch.ones(latent_dim))
        self.time = nn.Sequential(nn.Linear(h, h), nn.SiLU(), nn.Linear(h, h))
        self.inp = nn.Linear(latent_dim, h)
        self.norms = nn.ModuleList(nn.LayerNorm(h) for _ in range(config.depth))
        self.mods = nn.ModuleList(nn.Linear(h, 2 * h) for _ in range(config.depth))
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Linear(h, h), nn.SiLU(), nn.Linear(h, h)) for _ in range(config.depth)
        )
        self.out = nn.Linear(h, latent_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def set_statistics(self, latents: torch.Tensor) -> None:
        """Standardise with the mean and std of ``latents [M, D]`` (std floored at 1e-4)."""
        self.mean.copy_(latents.mean(0))
        self.std.copy_(latents.std(0).clamp(min=1e-4))

    def standardise(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.mean) / self.std

    def restore(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.std + self.mean

    def forward(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.time(timestep_embedding(t.reshape(-1).expand(z.shape[0]), self.inp.out_features))
        h = self.inp(z)
        for norm, mod, layer in zip(self.norms, self.mods, self.layers, strict=True):
            scale, shift = mod(F.silu(emb)).chunk(2, dim=-1)
            h = h + layer(norm(h) * (1 + scale) + shift)
        return self.out(h)


def latent_loss(
    model: LatentDenoiser, schedule: DiscreteSchedule, z: torch.Tensor, seed: int, step: int
) -> torch.Tensor:
    """DDPM ε-matching on standardised latents ``z [B, D]`` (draws from ``(seed, "latent", step)``)."""
    generator = derive_generator(seed, "latent-noise", step, device="cpu")
    t = torch.randint(1, schedule.num_steps + 1, (z.shape[0],), generator=generator)
    eps = torch.randn(z.shape, generator=generator).to(z)
    alpha_bar = schedule.alpha_bar(t).to(z)[:, None]
    z_t = alpha_bar.sqrt() * z + (1 - alpha_bar).sqrt() * eps
    return torch.mean((model(z_t, t.to(z) / schedule.num_steps) - eps) ** 2)


def sample_latents(
    model: LatentDenoiser,
    schedule: DiscreteSchedule,
    generators: list[torch.Generator],
    steps: int,
    device: torch.device | str,
) -> torch.Tensor:
    """Latents ``[len(generators), D]`` by DDIM (η = 0) from the latent DDPM, in encoder units."""
    dim = model.mean.shape[0]
    z = torch.stack([torch.randn(dim, generator=g) for g in generators]).to(device)

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return model(x, t.to(x.dtype) / schedule.num_steps)

    with torch.no_grad():
        z0 = ddim(denoise, z, schedule, steps, generator=generators, parameterisation="eps")
    return model.restore(z0)
