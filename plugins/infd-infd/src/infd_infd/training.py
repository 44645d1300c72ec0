"""Training steps: the autoencoder (eq. 2, with the discriminator) and the latent DDPM (eq. 3).

Each step draws its randomness from generators derived from ``(seed, name, step)``, so a resumed run
repeats exactly what an uninterrupted one would do. The model forward happens once per step, in
:meth:`AutoencoderTrainer.step` (``self.model(...)``) and :func:`latent_loss` (``model(z_t, t)``), so
wrapping those modules for distributed training touches nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from infd_core.seeding import derive_generator
from infd_infd.autoencoder import NeuralFieldAutoencoder
from infd_infd.config import InfdConfig
from infd_infd.data import TrainingBatch
from infd_infd.losses import PatchDiscriminator, adaptive_weight, hinge_discriminator_loss
from infd_infd.perceptual import PerceptualLoss
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


class AutoencoderTrainer:
    """One optimisation step of E, D, R (Adam) and of the PatchGAN discriminator."""

    def __init__(
        self,
        model: NeuralFieldAutoencoder,
        discriminator: PatchDiscriminator,
        perceptual: PerceptualLoss | None,
        config: InfdConfig,
    ) -> None:
        self.model, self.discriminator, self.perceptual = model, discriminator, perceptual
        self.config = config
        optim = config.optim
        self.optimizer = torch.optim.Adam(model.parameters(), lr=optim.lr, betas=optim.betas)
        self.disc_optimizer = torch.optim.Adam(discriminator.parameters(), lr=optim.lr, betas=optim.betas)

    def gan_active(self, step: int) -> bool:
        return self.config.loss.disc_weight > 0 and step >= self.config.loss.disc_start

    def step(self, batch: TrainingBatch, seed: int, step: int) -> dict[str, float]:
        """Update on ``batch`` (already on the device); returns the logged losses."""
        loss_cfg = self.config.loss
        generator = derive_generator(seed, "regulariser", step, device=batch.patch.device)
        prediction, regulariser_loss = self.model(batch.encoder_input, batch.coords, batch.cells, generator)
        l1 = (prediction - batch.patch).abs().mean()
        reconstruction = loss_cfg.l1_weight * l1
        logs = {"l1": l1.item(), "regulariser": regulariser_loss.item()}
        if self.perceptual is not None and loss_cfg.perceptual_weight > 0:
            perceptual = self.perceptual(prediction, batch.patch).mean()
            reconstruction = reconstruction + loss_cfg.perceptual_weight * perceptual
            logs["perceptual"] = perceptual.item()
        loss = reconstruction + regulariser_loss
        gan = self.gan_active(step)
        if gan:
            self.discriminator.requires_grad_(False)
            generator_loss = -self.discriminator(prediction).mean()
            self.discriminator.requires_grad_(True)
            weight = adaptive_weight(reconstruction, generator_loss, self.last_layer(), loss_cfg.disc_weight)
            loss = loss + weight * generator_loss
            logs |= {"gan": generator_loss.item(), "gan_weight": weight.item()}
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"autoencoder loss became {loss.item()} at step {step}")
        self.optimizer.step()
        if gan:
            real = self.discriminator(batch.patch)
            fake = self.discriminator(prediction.detach())
            disc_loss = hinge_discriminator_loss(real, fake)
            self.disc_optimizer.zero_grad(set_to_none=True)
            disc_loss.backward()
            self.disc_optimizer.step()
            logs["discriminator"] = disc_loss.item()
        logs["loss"] = loss.item()
        return logs

    def last_layer(self) -> torch.Tensor:
        model = getattr(self.model, "module", self.model)  # unwrap a DDP wrapper
        return model.last_layer


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
    model: nn.Module, schedule: DiscreteSchedule, z: torch.Tensor, seed: int, step: int
) -> torch.Tensor:
    """‖ε_θ(√ᾱ_t z + √(1 − ᾱ_t) ε, t) − ε‖² (eq. 3) with t and ε drawn from ``(seed, step)``."""
    generator = derive_generator(seed, "latent-noise", step, device="cpu")
    t = torch.randint(1, schedule.num_steps + 1, (z.shape[0],), generator=generator)
    noise = torch.randn(z.shape, generator=generator, dtype=z.dtype).to(z.device)
    noisy, target = GaussianDiffusion(schedule).sample_marginal(z, t, generator, noise=noise)
    return (model(noisy, t.to(z.device)) - target).pow(2).mean()


class TrainLog:
    """Appends JSON lines ``{"stage", "step", ...losses}`` to ``<output>/train_log.jsonl``."""

    def __init__(self, folder: str) -> None:
        self.path = Path(folder) / "train_log.jsonl"

    def records(self, stage: str | None = None) -> list[dict]:
        if not self.path.exists():
            return []
        records = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
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
