"""The ∞-Brush pipeline: conditional training on random pixel subsets, guided sampling at any size."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch

from infd_core.checkpoints import Checkpoint, optimizer_state, restore_optimizer
from infd_core.ddp import MicroBatch, wrap_ddp
from infd_core.pipeline import Pipeline, RunContext
from infd_core.preflight import ResourceEstimate
from infd_core.seeding import seeded_global_rng
from infd_infbrush.conditioning import load_encoder
from infd_infbrush.config import InfBrushConfig
from infd_infbrush.data import ClassBatches, class_vectors, reference_images
from infd_infbrush.denoiser import InfBrushDenoiser
from infd_infbrush.embeddings import EmbeddingBatches, EmbeddingTable, read_table
from infd_infbrush.errors import ConditionError
from infd_infbrush.sampling import GuidedGridDenoiser, check_guidance_scale, sample_images
from infd_infbrush.training import BrushTrainingLoss, condition_drops, eq14_weights
from infd_inftydiff import (
    EMA,
    check_size,
    load_image,
    make_batch,
    optimise,
)
from infd_inftydiff.sample_batches import batches_estimate, plan_batches, sample_batches
from infd_inftydiff.streamed_sampling import StreamedRun, sample_streamed
from infd_measures.diffusion import GaussianDiffusion
from infd_measures.discrete import DiscreteSchedule
from infd_measures.mollifier import GaussianMollifier
from infd_samplers.progress import progress_events

logger = logging.getLogger(__name__)


class InfBrushPipeline(Pipeline):
    """Conditional mollified diffusion with cross-attention neural operators (Le, Graikos et al., 2024)."""

    distributed_sampling = True  # ranks take disjoint batches of samples (one sample: rank 0 alone)
    # sampling settings and the step counts a resumed training run may change (to train longer)
    resume_settings = ("sampling", "optim.steps", "optim.log_every", "optim.checkpoint_every")

    def __init__(self, config: InfBrushConfig, context: RunContext) -> None:
        super().__init__(config, context)
        self.device = context.device
        with seeded_global_rng(context.run.seed, "init"):  # initial weights from the run seed
            self.model = InfBrushDenoiser(config.model)
        encoder_path = config.model.condition.encoder
        if encoder_path is not None and self.model.condition.encoder is not None:
            load_encoder(self.model.condition.encoder, encoder_path)
        self.model.to(self.device)
        self.ema = EMA(self.model, config.optim.ema_decay)
        self.optimizer = torch.optim.AdamW(
            [p for p in self.model.parameters() if p.requires_grad],
            lr=config.optim.lr,
            betas=config.optim.betas,
            weight_decay=config.optim.weight_decay,
        )
        self.schedule = DiscreteSchedule.cosine(config.diffusion.num_steps)
        self.mollifier = GaussianMollifier(
            config.diffusion.mollifier_variance, reference_resolution=config.data.resolution
        )
        self.diffusion = GaussianDiffusion(self.schedule, self.mollifier)
        self.step = 0
        self._tables: dict[str, EmbeddingTable] = {}

    # -- training ------------------------------------------------------------------------------------
    def embedding_table(self, path: str | None = None) -> EmbeddingTable:
        """The table at ``path`` (default: ``data.embeddings``), checked against ``condition.dim``."""
        path = path or self.config.data.embeddings
        if path is None:
            raise ConditionError("this model is conditioned on embeddings: give sampling.embeddings")
        if path not in self._tables:
            table = read_table(path)
            dim = self.config.model.condition.dim
            if table.dim != dim:
                raise ConditionError(f"{path}: embeddings are {table.dim} wide but condition.dim is {dim}")
            self._tables[path] = table
        return self._tables[path]

    def condition_input(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """What the model is conditioned on: class vectors, embedding rows, or the images as references."""
        condition = self.config.model.condition
        if condition.kind == "embedding":
            return self.embedding_table().embeddings[labels].to(self.device)
        if condition.kind == "vector":
            return class_vectors(labels, self.config.data).to(self.device)
        return reference_images(images, condition.reference_resolution).to(self.device)

    def loss_weights(self) -> torch.Tensor | None:
        """Per-time loss weights: eq. 14's λ_t (``diffusion.loss_weighting: lambda_t``) or none (uniform)."""
        if self.config.diffusion.loss_weighting == "lambda_t":
            return eq14_weights(self.schedule)
        return None

    def train(self) -> Mapping[str, float]:
        """Data-parallel over the global batch ``data.batch_size`` (``infd_core.ddp``): each rank reads
        only its slice, and each sample's noise, points and condition drop come from its own generator,
        so the weights do not depend on the number of ranks or on ``optim.grad_accumulation``."""
        cfg, ctx = self.config, self.context
        if cfg.data.embeddings is not None:
            batches: Any = EmbeddingBatches(cfg.data, self.embedding_table(), ctx.run.seed)
        else:
            batches = ClassBatches(cfg.data, ctx.run.seed)
        # a micro-batch without a dropped condition leaves the null tokens unused on that rank
        training_loss = wrap_ddp(
            BrushTrainingLoss(self.model, cfg.optim.amp, self.loss_weights()),
            ctx.dist,
            find_unused_parameters=True,
        )
        seed = ctx.run.seed

        def micro_loss(micro: MicroBatch) -> torch.Tensor:
            images, labels = batches(self.step, micro.indices)
            images = images.to(self.device)
            batch = make_batch(images, self.diffusion, cfg.data.subsampling, seed, self.step, micro.indices)
            drop = condition_drops(seed, self.step, micro.indices, cfg.data.condition_drop)
            with seeded_global_rng(seed, "dropout", self.step, micro.indices.start, device=self.device):
                return training_loss(batch, self.condition_input(images, labels), drop.to(self.device))

        loss_value = optimise(self, ctx, cfg.optim, cfg.data.batch_size, training_loss, micro_loss)
        return {"loss": loss_value, "step": float(self.step)}

    # -- sampling ------------------------------------------------------------------------------------
    def sample(self, out: str) -> list[str]:
        ctx, cfg = self.context, self.config.sampling
        size = check_size(ctx.run.sample.size, self.config.data.resolution)
        guidance = check_guidance_scale(cfg.guidance_scale)
        count = ctx.run.sample.num_samples
        model = self.sampling_model()
        conditions = self.sample_conditions(count)  # checked before anything is written
        plan = plan_batches(self.config.model, cfg, size, count, str(self.device))

        def tokens(indices: list[int]) -> Any:
            with torch.no_grad():
                return model.condition_tokens(conditions[indices[0] : indices[-1] + 1].to(self.device))

        def in_memory(indices: list[int], generators: list[torch.Generator]) -> torch.Tensor:
            return sample_images(
                model, self.schedule, self.mollifier, size, generators, tokens(indices),
                steps=cfg.steps, guidance_scale=guidance, eta=cfg.eta,
                wiener_epsilon=self.config.diffusion.wiener_epsilon, chunk_points=cfg.chunk_points,
                callback=self._progress(f"sample {indices[0] + 1}-{indices[-1] + 1}/{count}"),
                device=self.device,
            )  # fmt: skip

        def streamed(indices: list[int], generators: list[torch.Generator], run: StreamedRun) -> Any:
            guided = GuidedGridDenoiser(model, self.schedule, tokens(indices), guidance, cfg.chunk_points)
            run.device = self.device
            return sample_streamed(
                model, lambda ev, values, time: guided.noise_field(ev, values, time, size),
                self.schedule, self.mollifier, size, generators, steps=cfg.steps, run=run,
                wiener_epsilon=self.config.diffusion.wiener_epsilon,
            )  # fmt: skip

        return sample_batches(ctx, out, plan, in_memory, streamed)

    def sample_conditions(self, count: int) -> torch.Tensor:
        """The condition of each sample: class vectors, an explicit vector, or reference images."""
        cfg, data = self.config.sampling, self.config.data
        condition = self.config.model.condition
        if condition.kind == "embedding":
            return self.embedding_table(cfg.embeddings).rows(count)
        if condition.kind == "vector":
            if cfg.vector is not None:
                if len(cfg.vector) != condition.dim:
                    raise ConditionError(
                        f"sampling.vector has {len(cfg.vector)} entries but the model is conditioned on "
                        f"vectors of length {condition.dim}"
                    )
                return torch.tensor([cfg.vector] * count, dtype=torch.float32)
            classes = cfg.classes or list(range(len(data.classes)))
            bad = [c for c in classes if not 0 <= c < len(data.classes)]
            if bad:
                raise ConditionError(
                    f"sampling.classes {bad} outside 0..{len(data.classes) - 1} ({data.classes})"
                )
            labels = torch.tensor([classes[i % len(classes)] for i in range(count)])
            return class_vectors(labels, data)
        if cfg.reference is not None:
            reference = load_image(cfg.reference, self.config.model.in_channels)
            return reference_images(reference, condition.reference_resolution).expand(count, -1, -1, -1)
        batches = ClassBatches(data, self.context.run.seed)  # default references: training crops
        images = torch.stack([batches.item(i)[0] for i in range(count)])
        return reference_images(images, condition.reference_resolution)

    def resource_estimate(self, out: str) -> ResourceEstimate:
        cfg, sample = self.config.sampling, self.context.run.sample
        size = check_size(sample.size, self.config.data.resolution)
        return batches_estimate(self.config.model, cfg, size, sample.num_samples, str(self.device))

    def sampling_model(self) -> InfBrushDenoiser:
        """The model with EMA weights (``sampling.use_ema``) in eval mode."""
        model = InfBrushDenoiser(self.config.model).to(self.device)
        model.load_state_dict(self.ema.state if self.config.sampling.use_ema else self.model.state_dict())
        return model.eval()

    def _progress(self, task: str) -> Any:
        if self.context.progress is None:
            return None
        return progress_events(self.context.progress, task)

    # -- state ---------------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
        optimizer_tensors, optimizer_tree = optimizer_state(self.optimizer, "optimizer")
        tensors = {"model": self.model.state_dict(), "ema": self.ema.state, "optimizer": optimizer_tensors}
        return tensors, {"step": self.step, "optimizer": optimizer_tree}

    def load_state(self, checkpoint: Checkpoint) -> None:
        self.model.load_state_dict(checkpoint.state("model"))
        self.ema.state = checkpoint.state_like("ema", self.model.state_dict(), self.device)
        restore_optimizer(checkpoint, "optimizer", self.optimizer)
        self.step = int(checkpoint.meta.get("step") or 0)
