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


class LatentStatistics(nn.Module):
    """The latent statistics (standardisation) every latent denoiser holds as buffers."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(latent_dim))
        self.register_buffer("std", torch.ones(latent_dim))

    def set_statistics(self, latents: torch.Tensor) -> None:
        """Standardise with the mean and std of ``latents [M, D]`` (std floored at 1e-4)."""
        self.mean.copy_(latents.mean(0))
        self.std.copy_(latents.std(0).clamp(min=1e-4))

    def standardise(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.mean) / self.std

    def restore(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.std + self.mean


class LatentDenoiser(LatentStatistics):
    """``forward(z [B, D], t [B] in [0, 1]) -> ε prediction [B, D]``: a residual MLP with time-modulated
    layer norms (``latent.architecture: residual``)."""

    def __init__(self, latent_dim: int, config: LatentConfig) -> None:
        super().__init__(latent_dim)
        h = config.hidden
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

    def forward(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.time(timestep_embedding(t.reshape(-1).expand(z.shape[0]), self.inp.out_features))
        h = self.inp(z)
        for norm, mod, layer in zip(self.norms, self.mods, self.layers, strict=True):
            scale, shift = mod(F.silu(emb)).chunk(2, dim=-1)
            h = h + layer(norm(h) * (1 + scale) + shift)
        return self.out(h)


class LatentSkipMLP(LatentStatistics):
    """DiffAE's latent denoiser (Preechakul et al. 2022, ``latent.architecture: skip``): ``depth`` linear
    layers of ``hidden`` units; every layer after the first also reads the input z (skip connection);
    each hidden layer is scaled by (1 + a projection of the time embedding), layer-normalised and SiLU'd;
    the last maps to the ε prediction."""

    def __init__(self, latent_dim: int, config: LatentConfig) -> None:
        super().__init__(latent_dim)
        h, depth = config.hidden, config.depth
        self.time = nn.Sequential(nn.Linear(h, h), nn.SiLU(), nn.Linear(h, h))
        widths = [latent_dim] + [h + latent_dim] * (depth - 1)
        self.layers = nn.ModuleList(
            nn.Linear(w, h if i < depth - 1 else latent_dim) for i, w in enumerate(widths)
        )
        self.conds = nn.ModuleList(nn.Linear(h, h) for _ in range(depth - 1))
        self.norms = nn.ModuleList(nn.LayerNorm(h) for _ in range(depth - 1))
        nn.init.zeros_(self.layers[-1].weight)
        nn.init.zeros_(self.layers[-1].bias)

    def forward(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.time(timestep_embedding(t.reshape(-1).expand(z.shape[0]), self.conds[0].in_features))
        h = z
        for i, layer in enumerate(self.layers):
            h = layer(h if i == 0 else torch.cat([h, z], dim=-1))
            if i < len(self.layers) - 1:
                h = F.silu(self.norms[i](h * (1 + self.conds[i](F.silu(emb)))))
        return h


def build_latent_model(latent_dim: int, config: LatentConfig) -> LatentStatistics:
    """The latent denoiser ``config.architecture`` names."""
    if config.architecture == "skip":
        return LatentSkipMLP(latent_dim, config)
    return LatentDenoiser(latent_dim, config)


def latent_schedule(config: LatentConfig, pixel: DiscreteSchedule) -> DiscreteSchedule:
    """The latent DDPM's schedule: DiffAE's constant β over ``num_steps``, or the pixel model's."""
    if config.schedule == "constant":
        return DiscreteSchedule(torch.full((config.num_steps,), config.beta, dtype=torch.float64))
    return pixel


def latent_loss(
    model: nn.Module,
    schedule: DiscreteSchedule,
    z: torch.Tensor,
    seed: int,
    step: int,
    loss: str = "mse",
) -> torch.Tensor:
    """DDPM ε-matching on standardised latents ``z [B, D]`` (draws from ``(seed, "latent", step)``):
    mean squared error, or mean absolute error (``loss="l1"``, DiffAE's)."""
    generator = derive_generator(seed, "latent-noise", step, device="cpu")
    t = torch.randint(1, schedule.num_steps + 1, (z.shape[0],), generator=generator)
    eps = torch.randn(z.shape, generator=generator).to(z)
    alpha_bar = schedule.alpha_bar(t).to(z)[:, None]
    z_t = alpha_bar.sqrt() * z + (1 - alpha_bar).sqrt() * eps
    error = model(z_t, t.to(z) / schedule.num_steps) - eps
    return error.abs().mean() if loss == "l1" else error.pow(2).mean()


def sample_latents(
    model: LatentStatistics,
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
