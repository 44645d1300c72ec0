"""The INFD pipeline: train the neural-field autoencoder, then the latent DDPM; sample at any size."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from infd_core.checkpoints import Checkpoint, optimizer_state, restore_optimizer
from infd_core.ddp import MicroBatch, accumulate_gradients, plan_step, wrap_ddp
from infd_core.errors import UsageError
from infd_core.pipeline import Pipeline, RunContext
from infd_core.preflight import ResourceEstimate
from infd_core.seeding import seeded_global_rng
from infd_infd.autoencoder import NeuralFieldAutoencoder
from infd_infd.config import InfdConfig
from infd_infd.data import PatchBatches, TrainingBatch
from infd_infd.losses import build_discriminator
from infd_infd.perceptual import build_perceptual, perceptual_status
from infd_infd.rendering import conv_impl, render_to_zarr, store_url
from infd_infd.sampling import sample_latents
from infd_infd.training import (
    EMA,
    AutoencoderTrainer,
    LatentDiffusion,
    TrainLog,
    latent_loss,
    linear_schedule,
)
from infd_infd.unet import LatentUNet

logger = logging.getLogger(__name__)

_OPTIMIZERS = ("optimizer", "disc_optimizer", "latent_optimizer")


class InfdPipeline(Pipeline):
    """INFD (Chen et al., CVPR 2024): E → VQ → D → φ, CLIF renderer R, latent DDPM on z."""

    # every rank samples the same latents z (cheap) and renders a disjoint share of each store's tiles
    distributed_sampling = True
    # sampling settings and the step counts a resumed training run may change (to train longer)
    resume_settings = (
        "sampling", "evaluate", "optim.steps", "optim.log_every", "optim.checkpoint_every", "latent.steps",
    )  # fmt: skip

    def __init__(self, config: InfdConfig, context: RunContext) -> None:
        super().__init__(config, context)
        self.device = context.device
        seed = context.run.seed
        ae = config.autoencoder
        with seeded_global_rng(seed, "autoencoder-init"):  # initial weights from the run seed
            self.autoencoder = NeuralFieldAutoencoder(ae, config.renderer).to(self.device)
        with seeded_global_rng(seed, "discriminator-init"):
            self.discriminator = build_discriminator(config.loss.discriminator).to(self.device)
        with seeded_global_rng(seed, "latent-init"):
            unet = LatentUNet(config.latent.unet, ae.latent_channels, ae.latent_size)
            self.latent = LatentDiffusion(unet).to(self.device)
        self.latent_ema = EMA(self.latent, config.latent.ema_decay)
        self.trainer = AutoencoderTrainer(self.autoencoder, self.discriminator, None, config)
        self.latent_optimizer = torch.optim.AdamW(
            self.latent.parameters(), lr=config.latent.lr, weight_decay=config.latent.weight_decay
        )
        self.schedule = linear_schedule(config)
        self.ae_step = 0
        self.latent_step = 0

    # -- training ------------------------------------------------------------------------------------
    def train(self) -> Mapping[str, float]:
        cfg, ctx = self.config, self.context
        data = PatchBatches(cfg.data, cfg.autoencoder.encoder_size, ctx.run.seed)
        log = TrainLog(ctx.output)
        if ctx.dist.is_main:
            log.truncate({"autoencoder": self.ae_step, "latent": self.latent_step})
        metrics: dict[str, float] = {"autoencoder_step": float(self.ae_step)}
        if self.ae_step < cfg.optim.steps:
            self.trainer.perceptual = _to(build_perceptual(cfg.loss.perceptual), self.device)
            status = perceptual_status(cfg.loss.perceptual, cfg.loss.perceptual_weight)
            if ctx.dist.is_main and not any("perceptual" in r for r in log.records("notice")):
                log.append({"stage": "notice", "step": 0, "perceptual": status})  # once per training folder
            metrics |= self._train_autoencoder(data, log)
        self.autoencoder.eval()
        if self.latent_step < cfg.latent.steps:
            metrics |= self._train_latent(data, log)
        return metrics

    def _train_autoencoder(self, data: PatchBatches, log: TrainLog) -> dict[str, float]:
        """Data-parallel over the global batch ``data.batch_size`` (see ``autoencoder_training``)."""
        cfg, ctx = self.config, self.context
        seed = ctx.run.seed
        self.autoencoder.train()
        self.discriminator.train()
        # every rank initialises the VQ codebook from the whole global first batch: the same codes
        if self.trainer.needs_codebook():
            self.trainer.initialise_codebook(data(self.ae_step).to(self.device), seed, self.ae_step)
        self.trainer.wrapped = wrap_ddp(self.autoencoder, ctx.dist, broadcast_buffers=False)
        logs: dict[str, float] = {}
        try:
            while self.ae_step < cfg.optim.steps:
                plan = plan_step(cfg.data.batch_size, cfg.optim.grad_accumulation, ctx.dist)
                step = self.ae_step

                def load(indices: range, step: int = step) -> TrainingBatch:
                    return data(step, indices).to(self.device)  # this rank reads only its samples

                with conv_impl(self.autoencoder.renderer, "native"):
                    logs = self.trainer.step(load, seed, step, plan)
                self.ae_step += 1
                ctx.report_train_step(self.ae_step, cfg.optim.steps, logs)
                if ctx.dist.is_main and (
                    self.ae_step % cfg.optim.log_every == 0 or self.ae_step == cfg.optim.steps
                ):
                    log.append({"stage": "autoencoder", "step": self.ae_step, **logs})
                self._maybe_checkpoint(self.ae_step)
        finally:
            self.trainer.wrapped = self.autoencoder
        return {"l1": logs.get("l1", float("nan")), "autoencoder_step": float(self.ae_step)}

    def _encode(
        self, data: PatchBatches, step: int, batch_size: int, samples: range | None = None
    ) -> torch.Tensor:
        with torch.no_grad():
            inputs = data.encoder_inputs(step, batch_size, samples)
            return self.autoencoder.encode(inputs.to(self.device))

    def _train_latent(self, data: PatchBatches, log: TrainLog) -> dict[str, float]:
        """Data-parallel like the autoencoder; the latent scale is measured on every rank alike."""
        cfg, ctx = self.config.latent, self.context
        if self.latent_step == 0:  # the latent scale (LDM's scale factor): 1 / std of encoded images
            z = torch.cat([self._encode(data, -1 - i, cfg.batch_size) for i in range(cfg.stats_batches)])
            self.latent.scale.fill_(1.0 / float(z.std().clamp_min(1e-6)))
            self.latent_ema.state["scale"].copy_(self.latent.scale)
        self.latent.train()
        model = wrap_ddp(self.latent, ctx.dist, broadcast_buffers=False)
        loss_value = float("nan")

        def micro_loss(micro: MicroBatch) -> torch.Tensor:
            z = self._encode(data, self.latent_step, cfg.batch_size, micro.indices) * self.latent.scale
            return latent_loss(model, self.schedule, z, ctx.run.seed, self.latent_step, micro.indices)

        plan = plan_step(cfg.batch_size, cfg.grad_accumulation, ctx.dist)
        while self.latent_step < cfg.steps:
            self.latent_optimizer.zero_grad(set_to_none=True)
            losses = accumulate_gradients(model, plan, micro_loss, self.latent_step)
            self.latent_optimizer.step()
            self.latent_ema.update(self.latent)
            self.latent_step += 1
            loss_value = losses["loss"]
            ctx.report_progress("latent", self.latent_step, cfg.steps, {"loss": loss_value})
            every = self.config.optim.log_every
            if ctx.dist.is_main and (self.latent_step % every == 0 or self.latent_step == cfg.steps):
                log.append({"stage": "latent", "step": self.latent_step, "loss": loss_value})
            self._maybe_checkpoint(self.latent_step)
        self.latent.eval()
        return {"latent_loss": loss_value, "latent_step": float(self.latent_step)}

    def _maybe_checkpoint(self, step: int) -> None:
        every = self.config.optim.checkpoint_every
        if every and step % every == 0:
            tensors, meta = self.state()
            self.context.save_checkpoint(tensors, meta, step=meta["step"])

    # -- sampling ------------------------------------------------------------------------------------
    def sampling_latent_model(self) -> LatentDiffusion:
        """The latent model with EMA weights (``sampling.use_ema``), frozen, in eval mode."""
        ae = self.config.autoencoder
        model = LatentDiffusion(LatentUNet(self.config.latent.unet, ae.latent_channels, ae.latent_size))
        model.load_state_dict(
            self.latent_ema.state if self.config.sampling.use_ema else self.latent.state_dict()
        )
        return model.to(self.device).eval().requires_grad_(False)

    def canvas_size(self) -> tuple[int, int]:
        size = self.context.run.sample.size
        if size is None:
            side = self.config.autoencoder.encoder_size
            return side, side
        if len(size) == 1:
            return int(size[0]), int(size[0])
        if len(size) != 2:
            raise UsageError(f"INFD renders 2-D images: give --size like 1024 or 1024x768, got {size}")
        return int(size[0]), int(size[1])

    def resource_estimate(self, out: str) -> ResourceEstimate:
        """Rendering is tiled, so memory is bounded by a batch of tiles (with a halo) through the
        renderer's MLP; disk holds every uint8 store with its pyramid (≤ 1/3 more), uncompressed."""
        height, width = self.canvas_size()
        cfg, count = self.config.sampling, self.context.run.sample.num_samples
        channels, hidden = self.config.renderer.out_channels, self.config.renderer.hidden_channels
        tile = min(cfg.tile_size, max(16, 1 << (max(height, width) - 1).bit_length())) + 32
        memory = 600 * 2**20 + cfg.render_batch * tile * tile * hidden * 4 * 8
        disk = count * channels * height * width * 4 // 3
        return ResourceEstimate(
            memory, disk, f"{count} image{'s' * (count > 1)} of {channels}×{height}×{width}"
        )

    def sample(self, out: str) -> list[str]:
        self.autoencoder.eval().requires_grad_(False)
        try:
            return self._sample(out)
        finally:
            self.autoencoder.requires_grad_(True)

    def _sample(self, out: str) -> list[str]:
        from infd_infd.layout import LayoutLoss, check_layout, load_clip_encoder, load_layout
        from infd_samplers import posterior_sampling

        ctx, cfg = self.context, self.config.sampling
        size, count = self.canvas_size(), ctx.run.sample.num_samples
        store_url(out, 0, count)  # refuses several samples into one store before any work
        layout, guide = cfg.layout, None
        if layout is not None:
            boxes = load_layout(layout.boxes)
            check_layout(boxes, size)
            encoder = load_clip_encoder(layout.clip, self.device)
        model = self.sampling_latent_model()
        autoencoder = self.autoencoder
        scale = float(model.scale)
        ae = self.config.autoencoder
        shape = (ae.latent_channels, ae.latent_size, ae.latent_size)
        written: list[str] = []
        for start in range(0, count, cfg.batch_size):
            indices = list(range(start, min(count, start + cfg.batch_size)))
            generators = [ctx.generator("sample", i) for i in indices]
            if layout is not None:
                guide = LayoutLoss(autoencoder, encoder, boxes, size, scale, layout.box_resolution)
            guidance = (
                None
                if guide is None
                else posterior_sampling(guide, layout.guidance_scale, normalise=layout.normalise)
            )
            with conv_impl(autoencoder.renderer, "native"):
                z = sample_latents(
                    model, self.schedule, shape, generators, steps=cfg.steps, eta=cfg.eta,
                    guidance=guidance, callback=self._progress(f"sample {indices[0] + 1}-{indices[-1] + 1}"),
                )  # fmt: skip
                with torch.no_grad():
                    scores = None if guide is None else guide.similarities(z).tolist()
            for k, i in enumerate(indices):
                url = store_url(out, i, count)
                with torch.no_grad():
                    features = autoencoder.decode(z[k : k + 1] / scale)[0]
                written += self._render(features, size, url)
                if scores is not None:
                    written.append(self._write_scores(url, boxes, scores[k], layout.guidance_scale))
        if self.config.evaluate.enabled and ctx.dist.is_main:
            written.append(self.evaluate([p for p in written if p.rstrip("/").endswith(".zarr")], out))
        return written

    def evaluate(self, samples: list[str], out: str) -> str:
        """pFID of ``samples`` (OME-Zarr stores) against the real images; writes and returns pfid.json."""
        from infd_core.config import build_component
        from infd_infd.evaluate import patch_fid_of_samples, real_images

        cfg, seed = self.config.evaluate, self.context.run.seed
        extractor = build_component(
            "models", cfg.extractor, self.context.registry, path="config.evaluate.extractor"
        )
        real = cfg.real or real_images(self.config.data, seed, cfg.num_real)
        value = patch_fid_of_samples(real, samples, extractor, cfg, seed=seed, device=self.device)
        folder = Path(out).parent if out.rstrip("/").endswith(".zarr") else Path(out)
        path = folder / "pfid.json"
        record = {
            "metric": f"pFID-{cfg.patch_size}" + (f"/{cfg.resolution}" if cfg.resolution else ""),
            "value": value,
            "samples": len(samples),
            "extractor": cfg.extractor.name,
        }
        path.write_text(json.dumps(record, indent=2))
        return str(path)

    def _render(self, features: torch.Tensor, size: tuple[int, int], url: str) -> list[str]:
        ctx, cfg = self.context, self.config.sampling
        return render_to_zarr(
            self.autoencoder.renderer, features, size, url,
            tile_size=cfg.tile_size, chunk=cfg.chunk, batch_size=cfg.render_batch,
            precision=cfg.render_precision, on_tile_written=ctx.report_tile_written,
            provenance=ctx.provenance,
        )  # fmt: skip

    def _write_scores(self, url: str, boxes: list[Any], scores: list[float], scale: float) -> str:
        path = url.rstrip("/").removesuffix(".zarr").removesuffix(".ome") + ".layout.json"
        record = {
            "guidance_scale": scale,
            "boxes": [
                {"box": list(b.box), "prompt": b.prompt, "clip_similarity": s}
                for b, s in zip(boxes, scores, strict=True)
            ],
        }
        if self.context.dist.is_main:
            Path(path).write_text(json.dumps(record, indent=2))
        return path

    def _progress(self, task: str) -> Any:
        if self.context.progress is None:
            return None
        from infd_samplers.progress import progress_events

        return progress_events(self.context.progress, task)

    # -- state ---------------------------------------------------------------------------------------
    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return dict(
            zip(
                _OPTIMIZERS,
                (self.trainer.optimizer, self.trainer.disc_optimizer, self.latent_optimizer),
                strict=True,
            )
        )

    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
        tensors: dict[str, dict[str, torch.Tensor]] = {
            "autoencoder": self.autoencoder.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "latent": self.latent.state_dict(),
            "latent_ema": self.latent_ema.state,
        }
        meta: dict[str, Any] = {
            "autoencoder_step": self.ae_step,
            "latent_step": self.latent_step,
            "step": self.ae_step + self.latent_step,
            "latent_scale": float(self.latent.scale),
            "perceptual_loss": perceptual_status(
                self.config.loss.perceptual, self.config.loss.perceptual_weight
            ),
        }
        for name, optimizer in self._optimizers().items():
            tensors[name], meta[name] = optimizer_state(optimizer, name)
        return tensors, meta

    def load_state(self, checkpoint: Checkpoint) -> None:
        self.autoencoder.load_state_dict(checkpoint.state("autoencoder"))
        self.latent.load_state_dict(checkpoint.state("latent"))
        self.latent_ema.state = checkpoint.state_like("latent_ema", self.latent.state_dict(), self.device)
        if "discriminator" in checkpoint.tensors:
            self.discriminator.load_state_dict(checkpoint.state("discriminator"))
        for name, optimizer in self._optimizers().items():
            restore_optimizer(checkpoint, name, optimizer)
        self.ae_step = int(checkpoint.meta.get("autoencoder_step") or 0)
        self.latent_step = int(checkpoint.meta.get("latent_step") or 0)


def _to(module: torch.nn.Module | None, device: torch.device) -> Any:
    return None if module is None else module.to(device)
