"""The ∞-Diff pipeline: trains on random coordinate subsets, samples at any resolution."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch

from infd_core.checkpoints import Checkpoint, optimizer_state, restore_optimizer
from infd_core.ddp import MicroBatch, wrap_ddp
from infd_core.distributed import barrier, gather_lists
from infd_core.errors import UsageError
from infd_core.pipeline import Pipeline, RunContext
from infd_core.preflight import ResourceEstimate
from infd_core.seeding import seeded_global_rng
from infd_inftydiff.config import InftyDiffConfig, SuperResolutionConfig
from infd_inftydiff.data import ImageBatches
from infd_inftydiff.denoiser import InftyDiffDenoiser
from infd_inftydiff.guidance import (
    InpaintingGuidance,
    SuperResolutionGuidance,
    fill_unknown,
    known_pixel_latent,
)
from infd_inftydiff.latent_model import build_latent_model, latent_loss, latent_schedule, sample_latents
from infd_inftydiff.optimisation import optimise
from infd_inftydiff.sample_batches import batches_estimate, plan_batches, sample_batches
from infd_inftydiff.sampling import (
    StartImage,
    check_size,
    load_image,
    sample_images,
    to_uint8,
    write_image,
)
from infd_inftydiff.streamed_sampling import (
    StreamedRun,
    sample_streamed,
)
from infd_inftydiff.training import EMA, TrainingLoss, make_batch
from infd_measures.diffusion import GaussianDiffusion
from infd_measures.discrete import DiscreteSchedule
from infd_measures.mollifier import GaussianMollifier
from infd_samplers.progress import progress_events

logger = logging.getLogger(__name__)


class InftyDiffPipeline(Pipeline):
    """Mollified diffusion with a sparse/grid multi-scale denoiser (Bond-Taylor & Willcocks, 2024)."""

    distributed_sampling = True  # ranks take disjoint samples / tiles
    # sampling settings and the step counts a resumed training run may change (to train longer)
    resume_settings = ("sampling", "optim.steps", "optim.log_every", "optim.checkpoint_every", "latent.steps")

    def __init__(self, config: InftyDiffConfig, context: RunContext) -> None:
        super().__init__(config, context)
        self.device = context.device
        with seeded_global_rng(context.run.seed, "init"):  # initial weights from the run seed
            self.model = InftyDiffDenoiser(config.model).to(self.device)
        self.ema = EMA(self.model, config.optim.ema_decay)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(),
            lr=config.optim.lr,
            betas=config.optim.betas,
            weight_decay=config.optim.weight_decay,
        )
        self.schedule = DiscreteSchedule.cosine(config.diffusion.num_steps)
        self.mollifier = GaussianMollifier(
            config.diffusion.mollifier_variance, reference_resolution=config.data.resolution
        )
        self.diffusion = GaussianDiffusion(self.schedule, self.mollifier)
        self.latent_model = None
        if config.model.latent_dim:
            with seeded_global_rng(context.run.seed, "latent-init"):
                self.latent_model = build_latent_model(config.model.latent_dim, config.latent).to(self.device)
        self.latent_schedule = latent_schedule(config.latent, self.schedule)
        self.step = 0
        self.latent_step = 0

    # -- training ------------------------------------------------------------------------------------
    def train(self) -> Mapping[str, float]:
        cfg, ctx = self.config, self.context
        batches = ImageBatches(cfg.data, ctx.run.seed)
        training_loss = wrap_ddp(TrainingLoss(self.model, cfg.optim.amp), ctx.dist)

        def micro_loss(micro: MicroBatch) -> torch.Tensor:
            local = batches(self.step, micro.indices).to(self.device)  # only this micro-batch's items
            batch = make_batch(
                local, self.diffusion, cfg.data.subsampling, ctx.run.seed, self.step, micro.indices
            )
            with seeded_global_rng(
                ctx.run.seed, "dropout", self.step, micro.indices.start, device=self.device
            ):
                return training_loss(local, batch)

        loss_value = optimise(self, ctx, cfg.optim, cfg.data.batch_size, training_loss, micro_loss)
        metrics = {"loss": loss_value, "step": float(self.step)}
        if self.latent_model is not None:
            metrics["latent_loss"] = self._train_latent_model(batches)
        return metrics

    def _train_latent_model(self, batches: ImageBatches) -> float:
        """Fit the latent DDPM on latents of training images encoded by the EMA encoder (§5)."""
        cfg = self.config.latent
        assert self.latent_model is not None
        encoder_model = self.sampling_model()
        seed = self.context.run.seed

        def encode(step: int) -> torch.Tensor:
            images = batches(step).to(self.device)
            with torch.no_grad():
                return encoder_model.encode_grid(images)

        if self.latent_step == 0:
            self.latent_model.set_statistics(torch.cat([encode(-1 - i) for i in range(cfg.stats_batches)]))
        optimizer = torch.optim.Adam(self.latent_model.parameters(), lr=cfg.lr)
        loss_value = float("nan")
        while self.latent_step < cfg.steps:
            z = self.latent_model.standardise(encode(self.latent_step))
            loss = latent_loss(self.latent_model, self.latent_schedule, z, seed, self.latent_step, cfg.loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            self.latent_step += 1
            loss_value = loss.item()
            self.context.report_progress("latent", self.latent_step, cfg.steps, {"loss": loss_value})
        return loss_value

    # -- sampling ------------------------------------------------------------------------------------
    def sample(self, out: str) -> list[str]:
        ctx, cfg = self.context, self.config.sampling
        run = ctx.run
        model = self.sampling_model()
        if cfg.inpaint is not None:  # one image: rank 0 makes it while the other ranks wait
            paths = self._inpaint(model, out) if ctx.dist.is_main else []
            barrier()
            return gather_lists(paths)
        size = check_size(run.sample.size, self.config.data.resolution)
        latent, guidance, start_image = None, None, None
        if cfg.superres is not None:
            latent, guidance, start_image = self._super_resolution(model, cfg.superres, size)
        plan = plan_batches(self.config.model, cfg, size, run.sample.num_samples, str(self.device))

        def in_memory(indices: list[int], generators: list[torch.Generator]) -> torch.Tensor:
            return sample_images(
                model, self.schedule, self.mollifier, size, generators,
                steps=cfg.steps, eta=cfg.eta, wiener_epsilon=self.config.diffusion.wiener_epsilon,
                callback=self._progress(f"sample {indices[0] + 1}-{indices[-1] + 1}/{plan.count}"),
                latent=self._batch_latent(model, latent, indices), device=self.device,
                tile_points=cfg.chunk_points, guidance=guidance, start=start_image,
            )  # fmt: skip

        def streamed(indices: list[int], generators: list[torch.Generator], run: StreamedRun) -> Any:
            batch_latent = self._batch_latent(model, latent, indices)
            run.device = self.device
            return sample_streamed(
                model, lambda ev, values, time: model.evaluate(ev, values, time, size, batch_latent),
                self.schedule, self.mollifier, size, generators, steps=cfg.steps, run=run,
                wiener_epsilon=self.config.diffusion.wiener_epsilon,
            )  # fmt: skip

        return sample_batches(ctx, out, plan, in_memory, streamed)

    def _batch_latent(self, model: InftyDiffDenoiser, latent: torch.Tensor | None, indices: list[int]) -> Any:
        """The latents of a batch: the super-resolution input's, or drawn from the latent model."""
        return latent.expand(len(indices), -1) if latent is not None else self._latents(model, indices)

    def resource_estimate(self, out: str) -> ResourceEstimate:
        cfg, sample = self.config.sampling, self.context.run.sample
        if cfg.inpaint is not None:  # the image's size is only known once it is read
            return ResourceEstimate(0, 0, "inpainting")
        size = check_size(sample.size, self.config.data.resolution)
        return batches_estimate(self.config.model, cfg, size, sample.num_samples, str(self.device))

    def sampling_model(self) -> InftyDiffDenoiser:
        """The model with EMA weights (``sampling.use_ema``) in eval mode."""
        model = InftyDiffDenoiser(self.config.model).to(self.device)
        model.load_state_dict(self.ema.state if self.config.sampling.use_ema else self.model.state_dict())
        return model.eval()

    def _progress(self, task: str) -> Any:
        if self.context.progress is None:
            return None
        return progress_events(self.context.progress, task)

    def _latents(self, model: InftyDiffDenoiser, indices: list[int]) -> torch.Tensor | None:
        """Latents for unconditional samples, drawn from the latent DDPM (autoencoder models only)."""
        if self.latent_model is None:
            return None
        generators = [self.context.generator("latent", i, device="cpu") for i in indices]
        return sample_latents(
            self.latent_model, self.latent_schedule, generators, self.config.sampling.steps, self.device
        )

    def _encode_file(self, model: InftyDiffDenoiser, path: str) -> torch.Tensor:
        if model.encoder is None:
            raise UsageError("super-resolution encodes the image: train with model.latent_dim > 0")
        image = load_image(path, model.config.in_channels).to(self.device)
        with torch.no_grad():
            return model.encode_grid(image, self.config.sampling.chunk_points)

    def _super_resolution(
        self, model: InftyDiffDenoiser, cfg: SuperResolutionConfig, size: tuple[int, int]
    ) -> tuple[torch.Tensor, SuperResolutionGuidance | None, StartImage | None]:
        """The low-resolution image's latent (§5), and optionally guidance towards it (its downsampled
        output) and a start from it, upsampled and noised to t_s."""
        latent = self._encode_file(model, cfg.image)
        low = load_image(cfg.image, model.config.in_channels).to(self.device)
        guidance = None
        if cfg.guidance_scale > 0:
            guidance = SuperResolutionGuidance(low, self.mollifier, self.schedule, cfg.guidance_scale)
        start = None
        if cfg.start < 1:
            up = torch.nn.functional.interpolate(low, size=size, mode="bicubic", align_corners=False)
            start = StartImage(up.clamp(-1, 1), max(1, round(cfg.start * self.schedule.num_steps)))
        return latent, guidance, start

    def _inpaint(self, model: InftyDiffDenoiser, out: str) -> list[str]:
        cfg = self.config.sampling.inpaint
        assert cfg is not None
        image = load_image(cfg.image, model.config.in_channels).to(self.device)
        mask = load_image(cfg.mask, 1).to(self.device) > 0  # white (1) known, black (−1) to fill
        if mask.shape[-2:] != image.shape[-2:]:
            raise UsageError(f"mask of shape {list(mask.shape)} does not match the image {list(image.shape)}")
        if not bool(mask.any()):
            raise UsageError(f"{cfg.mask}: no known pixel (white = known)")
        latent = known_pixel_latent(model, image, mask) if model.encoder is not None else None
        observed = fill_unknown(image, mask)  # nothing of the region to fill reaches the sampler
        guidance = InpaintingGuidance(observed, mask, self.mollifier, self.schedule, cfg.guidance_scale)
        start = None
        if cfg.start < 1:
            start = StartImage(observed, max(1, round(cfg.start * self.schedule.num_steps)))
        images = sample_images(
            model, self.schedule, self.mollifier, tuple(image.shape[-2:]),
            [self.context.generator("inpaint", 0, device="cpu")],
            steps=self.config.sampling.steps, eta=self.config.sampling.eta,
            wiener_epsilon=self.config.diffusion.wiener_epsilon, callback=self._progress("inpaint"),
            latent=latent, guidance=guidance, device=self.device,
            tile_points=self.config.sampling.chunk_points, start=start,
        )  # fmt: skip
        url = out if out.rstrip("/").endswith(".zarr") else f"{out.rstrip('/')}/inpainted.ome.zarr"
        return write_image(
            to_uint8(images)[0], url, self.config.sampling.chunk, self.context.report_tile_written,
            provenance=self.context.provenance,
        )  # fmt: skip

    # -- state ---------------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
        optimizer_tensors, optimizer_tree = optimizer_state(self.optimizer, "optimizer")
        tensors = {"model": self.model.state_dict(), "ema": self.ema.state, "optimizer": optimizer_tensors}
        if self.latent_model is not None:
            tensors["latent"] = self.latent_model.state_dict()
        return tensors, {"step": self.step, "latent_step": self.latent_step, "optimizer": optimizer_tree}

    def load_state(self, checkpoint: Checkpoint) -> None:
        self.model.load_state_dict(checkpoint.state("model"))
        self.ema.state = checkpoint.state_like("ema", self.model.state_dict(), self.device)
        restore_optimizer(checkpoint, "optimizer", self.optimizer)
        if self.latent_model is not None and "latent" in checkpoint.tensors:
            self.latent_model.load_state_dict(checkpoint.state("latent"))
        self.step = int(checkpoint.meta.get("step") or 0)
        self.latent_step = int(checkpoint.meta.get("latent_step") or 0)
