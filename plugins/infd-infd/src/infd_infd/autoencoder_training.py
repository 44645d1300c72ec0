"""One optimisation step of the autoencoder (eq. 2) and of its PatchGAN discriminator, data-parallel.

A step covers the *global* batch (``data.batch_size`` samples), cut by ``infd_core.ddp.plan_step`` into
this rank's micro-batches; each sample's randomness comes from its own generator, so the weights after a
step do not depend on the number of ranks or on ``optim.grad_accumulation``:

* E, D, R: the wrapped model (DDP with several ranks) gets ``(L_rec + L_reg + λ·L_GAN) · weight`` per
  micro-batch; DDP averages the gradients into the gradient of the global-batch mean.
* λ (VQGAN's adaptive weight) is measured on the gradients of the *global-batch* L_rec and L_GAN at the
  renderer's last layer: each micro-batch's gradients there (``autograd.grad`` on the unwrapped module,
  which DDP does not see), weighted and summed over micro-batches and ranks. One micro-batch per rank
  reuses the forward; with accumulation the micro-batches are evaluated twice (once for λ).
* The discriminator is not wrapped: every rank gathers the global batch's real and generated patches
  (each rank fills its rows, then a sum over ranks) and takes the same step on the whole batch, so all
  ranks hold the same discriminator and its BatchNorm sees the global batch, as in one process.
* The generator's GAN term evaluates the discriminator in eval mode (BatchNorm running statistics), so a
  sample's term does not depend on the other samples of its micro-batch (a deviation from VQGAN, whose
  generator term uses the statistics of its batch).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import torch
from torch import nn

from infd_core.ddp import LossMeter, MicroBatch, accumulate, all_reduce_sum, sample_generators
from infd_core.distributed import current
from infd_core.seeding import derive_generator
from infd_infd.autoencoder import NeuralFieldAutoencoder
from infd_infd.config import InfdConfig
from infd_infd.data import TrainingBatch
from infd_infd.losses import PatchDiscriminator, hinge_discriminator_loss
from infd_infd.perceptual import PerceptualLoss
from infd_infd.regularisers import VectorQuantiser


@dataclasses.dataclass
class _Terms:
    """The loss terms of one micro-batch (means over its samples) and its prediction."""

    prediction: torch.Tensor
    reconstruction: torch.Tensor
    regulariser: torch.Tensor
    gan: torch.Tensor | None
    logs: dict[str, float]


class AutoencoderTrainer:
    """Adam steps of E, D, R and of the PatchGAN discriminator over one global batch."""

    def __init__(
        self,
        model: NeuralFieldAutoencoder,
        discriminator: PatchDiscriminator,
        perceptual: PerceptualLoss | None,
        config: InfdConfig,
    ) -> None:
        self.model, self.discriminator, self.perceptual = model, discriminator, perceptual
        self.wrapped: nn.Module = model  # the module the forward goes through (DDP with several ranks)
        self.config = config
        optim = config.optim
        self.optimizer = torch.optim.Adam(model.parameters(), lr=optim.lr, betas=optim.betas)
        self.disc_optimizer = torch.optim.Adam(discriminator.parameters(), lr=optim.lr, betas=optim.betas)

    def gan_active(self, step: int) -> bool:
        return self.config.loss.disc_weight > 0 and step >= self.config.loss.disc_start

    def last_layer(self) -> torch.Tensor:
        return self.model.last_layer

    def needs_codebook(self) -> bool:
        """Whether the VQ codebook still waits for its initialisation from the first batch."""
        regulariser = self.model.regulariser
        return isinstance(regulariser, VectorQuantiser) and not bool(regulariser.initialised)

    @torch.no_grad()
    def initialise_codebook(self, batch: TrainingBatch, seed: int, step: int) -> None:
        """VQ: codes picked from the latents of ``batch`` (the whole global first batch, on every rank)."""
        regulariser = self.model.regulariser
        if not self.needs_codebook():
            return
        assert isinstance(regulariser, VectorQuantiser)
        generator = derive_generator(seed, "regulariser", step, device=batch.patch.device)
        regulariser.initialise(self.model._moments(batch.encoder_input), generator)

    def _terms(
        self, model: nn.Module, batch: TrainingBatch, seed: int, step: int, samples: Sequence[int]
    ) -> _Terms:
        loss_cfg = self.config.loss
        generators = sample_generators(seed, step, samples, stream="regulariser", device=batch.patch.device)
        prediction, regulariser = model(batch.encoder_input, batch.coords, batch.cells, generators)
        l1 = (prediction - batch.patch).abs().mean()
        reconstruction = loss_cfg.l1_weight * l1
        logs = {"l1": l1.item(), "regulariser": regulariser.item()}
        if self.perceptual is not None and loss_cfg.perceptual_weight > 0:
            perceptual = self.perceptual(prediction, batch.patch).mean()
            reconstruction = reconstruction + loss_cfg.perceptual_weight * perceptual
            logs["perceptual"] = perceptual.item()
        gan = None
        if self.gan_active(step):
            training = self.discriminator.training
            self.discriminator.eval().requires_grad_(False)
            gan = -self.discriminator(prediction).mean()
            self.discriminator.train(training).requires_grad_(True)
            logs["gan"] = gan.item()
        return _Terms(prediction, reconstruction, regulariser, gan, logs)

    def _last_layer_grads(self, terms: _Terms, weight: float) -> torch.Tensor:
        """``weight ·`` the gradients of L_rec and L_GAN at the last layer, stacked ``(2, ...)``."""
        assert terms.gan is not None
        layer = self.last_layer()
        (rec,) = torch.autograd.grad(terms.reconstruction, layer, retain_graph=True)
        (gan,) = torch.autograd.grad(terms.gan, layer, retain_graph=True)
        return torch.stack([rec, gan]) * weight

    def _adaptive_weight(self, summed: torch.Tensor) -> torch.Tensor:
        """λ from the micro-batch-weighted last-layer gradients summed on this rank (eq. 2, VQGAN)."""
        grads = all_reduce_sum(summed) / current().world_size  # gradients of the global-batch means
        weight = grads[0].norm() / (grads[1].norm() + 1e-4)
        return weight.clamp(0.0, 1e4).to(summed.device) * self.config.loss.disc_weight

    def step(
        self,
        batch: TrainingBatch | Callable[[range], TrainingBatch],
        seed: int,
        step: int,
        plan: list[MicroBatch] | None = None,
    ) -> dict[str, float]:
        """One step; ``batch`` is the whole batch (one process, no ``plan``) or a function giving the
        samples of each micro-batch of ``plan`` (on the device). Returns global-batch mean losses."""
        if isinstance(batch, TrainingBatch):
            whole = batch
            plan = plan or [MicroBatch(range(whole.patch.shape[0]), 1.0, True)]
            self.initialise_codebook(whole, seed, step)

            def load(indices: range) -> TrainingBatch:
                return whole.select(indices)
        else:
            load = batch
        assert plan is not None
        gan = self.gan_active(step)
        kept: tuple[TrainingBatch, _Terms] | None = None
        weight = None
        if gan:  # λ needs the global batch's gradients before any backward
            summed = None
            for micro in plan:
                data = load(micro.indices)
                wrapped = self.wrapped if len(plan) == 1 else self.model  # one micro-batch: reuse
                terms = self._terms(wrapped, data, seed, step, micro.indices)
                grads = self._last_layer_grads(terms, micro.weight)
                summed = grads if summed is None else summed + grads
                if len(plan) == 1:
                    kept = data, terms
            weight = self._adaptive_weight(summed)  # type: ignore[arg-type]
        self.optimizer.zero_grad(set_to_none=True)
        meter = LossMeter()
        real: dict[int, torch.Tensor] = {}
        fake: dict[int, torch.Tensor] = {}
        for micro in plan:
            data = kept[0] if kept else load(micro.indices)
            with accumulate(self.wrapped, micro):
                terms = kept[1] if kept else self._terms(self.wrapped, data, seed, step, micro.indices)
                loss = terms.reconstruction + terms.regulariser
                if terms.gan is not None and weight is not None:
                    loss = loss + weight * terms.gan
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"autoencoder loss became {loss.item()} at step {step}")
                (loss * micro.weight).backward()
            meter.add({**terms.logs, "loss": loss.item()}, len(micro.indices))
            if gan:
                for row, index in enumerate(micro.indices):
                    real[index], fake[index] = data.patch[row], terms.prediction[row].detach()
        self.optimizer.step()
        logs = meter.mean()
        if gan:
            assert weight is not None
            logs["gan_weight"] = float(weight)
            logs["discriminator"] = self._discriminator_step(real, fake, plan)
        return logs

    def _discriminator_step(
        self, real: dict[int, torch.Tensor], fake: dict[int, torch.Tensor], plan: list[MicroBatch]
    ) -> float:
        """The same hinge-loss step on every rank, on the whole global batch of real and fake patches."""
        info = current()
        size = len(plan[0].indices) * info.world_size / plan[0].weight  # the global batch size
        count = round(size)
        like = next(iter(real.values()))

        def gather(rows: dict[int, torch.Tensor]) -> torch.Tensor:
            full = torch.zeros((count, *like.shape), dtype=like.dtype, device=like.device)
            for index, value in rows.items():
                full[index] = value
            return all_reduce_sum(full).to(like.device)  # each row filled by one rank: exact

        reals, fakes = gather(real), gather(fake)
        disc_loss = hinge_discriminator_loss(self.discriminator(reals), self.discriminator(fakes))
        self.disc_optimizer.zero_grad(set_to_none=True)
        disc_loss.backward()
        self.disc_optimizer.step()
        return disc_loss.item()


__all__ = ["AutoencoderTrainer"]
