"""Training pieces: the latent DDPM's loss (eq. 3), EMA and the training log; the autoencoder step
(eq. 2, with the discriminator) is :class:`infd_infd.autoencoder_training.AutoencoderTrainer`.

Each draw of global sample ``k`` of step ``s`` comes from a generator derived from ``(seed, name, s,
"sample", k)``, so a resumed run repeats exactly what an uninterrupted one would do, and the draws do
not depend on how the global batch is cut among ranks and micro-batches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from infd_core.ddp import sample_generators
from infd_core.json_lines import read_json_lines
from infd_infd.autoencoder_training import AutoencoderTrainer
from infd_infd.config import InfdConfig
from infd_measures.diffusion import GaussianDiffusion
from infd_measures.discrete import DiscreteSchedule


class EMA:
    """Exponential moving average of a model's floating-point parameters (buffers are copied)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.parameters = {name for name, _ in model.named_parameters()}
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for key, value in model.state_dict().items():
            if key in self.parameters and value.dtype.is_floating_point:
                self.state[key].lerp_(value.detach(), 1.0 - self.decay)
            else:
                self.state[key].copy_(value)


class LatentDiffusion(nn.Module):
    """ε_θ on standardised latents z · scale (the scale is measured once on encoded training images)."""

    def __init__(self, unet: nn.Module) -> None:
        super().__init__()
        self.unet = unet
        self.register_buffer("scale", torch.ones(()))

    def forward(self, z_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.unet(z_t, t)


def linear_schedule(config: InfdConfig) -> DiscreteSchedule:
    latent = config.latent
    return DiscreteSchedule.linear(latent.num_steps, latent.beta_start, latent.beta_end)


def latent_loss(
    model: nn.Module,
    schedule: DiscreteSchedule,
    z: torch.Tensor,
    seed: int,
    step: int,
    samples: Sequence[int] | None = None,
) -> torch.Tensor:
    """‖ε_θ(√ᾱ_t z + √(1 − ᾱ_t) ε, t) − ε‖² (eq. 3); t and ε of global sample k (``samples``, default
    ``0 … B − 1``) from ``(seed, "latent-noise", step, "sample", k)``."""
    samples = range(z.shape[0]) if samples is None else samples
    generators = sample_generators(seed, step, samples, stream="latent-noise")
    t = torch.cat([torch.randint(1, schedule.num_steps + 1, (1,), generator=g) for g in generators])
    noise = torch.stack([torch.randn(z.shape[1:], generator=g, dtype=z.dtype) for g in generators])
    noise = noise.to(z.device)
    noisy, target = GaussianDiffusion(schedule).sample_marginal(z, t, generators[0], noise=noise)
    return (model(noisy, t.to(z.device)) - target).pow(2).mean()


class TrainLog:
    """Appends JSON lines ``{"stage", "step", ...losses}`` to ``<output>/train_log.jsonl``."""

    def __init__(self, folder: str) -> None:
        self.path = Path(folder) / "train_log.jsonl"

    def records(self, stage: str | None = None) -> list[dict]:
        records = [r for r in read_json_lines(self.path) if "stage" in r and "step" in r]
        return [r for r in records if stage is None or r["stage"] == stage]

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    def truncate(self, steps: dict[str, int]) -> None:
        """Drop records past the given step of each stage (a resumed run writes them again)."""
        kept = [r for r in self.records() if r["step"] <= steps.get(r["stage"], 0)]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))


__all__ = ["EMA", "AutoencoderTrainer", "LatentDiffusion", "TrainLog", "latent_loss", "linear_schedule"]
