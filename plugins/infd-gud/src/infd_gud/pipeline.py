"""The ``gud`` pipeline: fit basis and prior, train the γ-conditioned network, sample, NLL, extension."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from infd_core.checkpoints import Checkpoint, optimizer_state, restore_optimizer
from infd_core.ddp import (
    MicroBatch,
    accumulate_gradients,
    all_reduce_sum,
    plan_step,
    sample_generators,
    wrap_ddp,
)
from infd_core.distributed import barrier, gather_lists
from infd_core.pipeline import Pipeline, RunContext
from infd_core.preflight import ResourceEstimate
from infd_core.seeding import seeded_global_rng
from infd_gud.conditioning import gamma_denoiser
from infd_gud.config import GudConfig
from infd_gud.data import GudImages
from infd_gud.errors import BasisNotFittedError, GudUsageError
from infd_gud.extension import complete_image, stream_strip, to_uint8
from infd_gud.likelihood import negative_log_likelihood
from infd_gud.network import GammaUNet, StateSpaceModel
from infd_gud.outputs import plot_schedule, write_json, write_png, write_zarr
from infd_gud.space import ComponentSpace
from infd_gud.training import EMA, sample_draws, score_matching_loss
from infd_io.export import write_preview
from infd_io.store_info import is_finished_store
from infd_samplers import ddim, probability_flow, reverse_sde

logger = logging.getLogger(__name__)


class GudPipeline(Pipeline):
    """GUD (Gerdes et al.): diffusion with component-wise schedules in a chosen basis."""

    distributed_sampling = True  # ranks take disjoint samples / tiles
    # sampling settings and the step counts a resumed training run may change (to train longer)
    resume_settings = ("sampling", "likelihood", "extension", "training.steps", "training.log_every")

    def __init__(self, config: GudConfig, context: RunContext) -> None:
        super().__init__(config, context)
        data = config.data
        self.space = ComponentSpace(
            config.basis, config.prior, config.schedule, (data.resolution, data.resolution), data.channels,
            context.registry,
        )  # fmt: skip
        self._images: GudImages | None = None
        self.network: GammaUNet | None = None
        self.ema: EMA | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.step = 0

    # -- data and model --------------------------------------------------------------------------------
    def images(self, count: int, seed_offset: int = 0) -> torch.Tensor:
        """``count`` images ``(count, C, R, R)`` in [-1, 1] of ``data.source``; ``seed_offset`` 1 and 2
        give held-out ones."""
        if self._images is None:
            self._images = GudImages(self.config.data)
        return self._images.images(count, seed_offset)

    def _build_network(self) -> None:
        data = self.config.data
        labels = self.space.position_labels()
        with seeded_global_rng(self.context.run.seed, "init"):  # same initial weights on every rank
            self.network = GammaUNet.from_config(
                self.config.network, image_channels=data.channels, shape=self.space.shape, labels=labels
            ).to(self.context.device)
        self.ema = EMA(self.network, self.config.training.ema_decay)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=self.config.training.lr)

    def model(self, use_ema: bool = True) -> nn.Module:
        """The network seen from the state space (EMA weights by default)."""
        if self.network is None or self.ema is None:
            raise BasisNotFittedError("the GUD model is not trained: run training or load a checkpoint first")
        return StateSpaceModel(self.ema.module if use_ema else self.network, self.space.basis, self._scale())

    def _scale(self) -> torch.Tensor | None:
        """S for the network's image-space input (``network.input: image``), None for whitened input."""
        return self.space.prior.scale if self.config.network.input == "image" else None

    # -- training --------------------------------------------------------------------------------------
    def train(self) -> Mapping[str, float]:
        cfg, ctx = self.config.training, self.context
        if not self.space.fitted:
            self.space.fit(self.images(self.config.data.fit_items))
        if self.network is None:
            self._build_network()
        assert self.network is not None and self.ema is not None and self.optimizer is not None
        if ctx.dist.is_main:
            title = f"{self.config.schedule.name} schedule, {self.config.basis.name} basis"
            plot_schedule(
                self.space.schedule(), Path(ctx.output) / "schedule.png", cfg.plot_components, title
            )
        data = self.images(self.config.data.num_items)
        network = wrap_ddp(self.network, ctx.dist)  # DDP when several ranks: gradients averaged
        model = StateSpaceModel(network, self.space.basis, self._scale())  # type: ignore[arg-type]
        optimizer = self.optimizer  # restored with the checkpoint when resuming: Adam continues exactly
        state_shape = (self.space.channels, self.space.num_components)
        metrics = {"loss": float("nan")}
        self.network.train()
        plan = plan_step(cfg.batch_size, cfg.grad_accumulation, ctx.dist)
        while self.step < cfg.steps:
            # one schedule per global batch; each sample's data, time and noise from (seed, step, sample)
            schedule = self.space.schedule(
                self.space.draw_parameters(ctx.generator("train", self.step, device="cpu"))
            )

            def micro_loss(micro: MicroBatch, schedule: Any = schedule) -> torch.Tensor:
                generators = sample_generators(ctx.run.seed, self.step, micro.indices)
                items, times, noise = sample_draws(
                    generators, micro.indices, cfg.batch_size, data.shape[0], state_shape, cfg.t_min
                )
                return score_matching_loss(
                    model, self.space.encode(data[items]), schedule, times, None, noise
                )

            optimizer.zero_grad(set_to_none=True)
            metrics = accumulate_gradients(network, plan, micro_loss, self.step)
            if cfg.grad_clip is not None:
                nn.utils.clip_grad_norm_(self.network.parameters(), cfg.grad_clip)
            optimizer.step()
            self.ema.update(self.network)
            self.step += 1
            ctx.report_train_step(self.step, cfg.steps, metrics)
            if self.step % cfg.log_every == 0:
                logger.info("step %d: loss %.4f", self.step, metrics["loss"])
        self.network.eval()
        return {"loss": metrics["loss"], "step": float(self.step)}

    # -- checkpoints ---------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
        if self.network is None or self.ema is None or self.optimizer is None:
            raise BasisNotFittedError("nothing to save: the GUD model is not trained")
        optimizer_tensors, optimizer_tree = optimizer_state(self.optimizer, "optimizer")
        tensors = {
            "model": {k: v.detach().cpu() for k, v in self.network.state_dict().items()},
            "ema": {k: v.detach().cpu() for k, v in self.ema.module.state_dict().items()},
            "space": self.space.tensors(),
            "optimizer": optimizer_tensors,
        }
        meta = {"step": self.step, "schedule": self.config.schedule.model_dump(mode="json"),
                "basis": self.config.basis.model_dump(), "prior": self.config.prior.model_dump(),
                "optimizer": optimizer_tree}  # fmt: skip
        return tensors, meta

    def load_state(self, checkpoint: Checkpoint) -> None:
        self.space.load(checkpoint.state("space"))
        self._build_network()
        assert self.network is not None and self.ema is not None and self.optimizer is not None
        self.network.load_state_dict(checkpoint.state("model"))
        self.ema.module.load_state_dict(checkpoint.state("ema"))
        restore_optimizer(checkpoint, "optimizer", self.optimizer)  # older checkpoints: a fresh Adam
        self.step = int(checkpoint.meta.get("step") or 0)

    # -- sampling ------------------------------------------------------------------------------------
    def generate(self, count: int, first_index: int = 0) -> torch.Tensor:
        """``count`` images ``(count, C, H, W)`` by PF-ODE or reverse SDE; sample i uses seed (…, i)."""
        cfg = self.config.sampling
        denoiser = gamma_denoiser(self.model(cfg.use_ema), self.space.schedule())
        channels, size = self.space.channels, self.space.num_components
        outputs = []
        for start in range(first_index, first_index + count, cfg.batch_size):
            indices = range(start, min(first_index + count, start + cfg.batch_size))
            gens = [self.context.generator("sample", i, device="cpu") for i in indices]
            noise = torch.stack([torch.randn(channels, size, generator=g) for g in gens])
            with torch.no_grad():
                if cfg.method == "ode":
                    state = probability_flow(
                        denoiser, noise, self.space.schedule(), cfg.steps, solver=cfg.solver
                    )
                else:
                    state = reverse_sde(denoiser, noise, self.space.schedule(), cfg.steps, generator=gens)
            outputs.append(self.space.decode(state))
        return torch.cat(outputs).clamp(-1.0, 1.0)

    def sample(self, out: str) -> list[str]:
        run, folder = self.context.run.sample, Path(out)
        self.space.prior  # noqa: B018 - raises BasisNotFittedError before anything is written
        size, res = run.size, self.config.data.resolution
        strip_width = self.config.extension.width if self.config.extension.enabled else None
        if size is not None:
            if len(size) != 2 or size[0] != res or size[1] < res:
                raise GudUsageError(f"sample.size must be [{res}, W >= {res}] for GUD, got {size}")
            if size[1] > res:
                strip_width = size[1]
        paths: list[str] = []
        if strip_width is None:
            paths += self.write_samples(folder)
        if self.context.dist.is_main:  # sequential outputs: rank 0 makes them while the others wait
            if strip_width is not None:
                strip, preview = self.extend(str(folder / "strip.zarr"), strip_width), folder / "strip.png"
                write_preview(strip, str(preview))  # downsampled to at most 2048 px for long strips
                paths += [strip, str(preview)]
            if self.config.extension.completion:
                paths += self.complete(folder)
            if self.config.likelihood.enabled:
                paths.append(str(write_json(folder / "nll.json", self.likelihood())))
        barrier()
        return paths

    def resource_estimate(self, out: str) -> ResourceEstimate:
        """Samples are held together (float32 images, their uint8 copies and the mosaic); a strip is
        made window by window, so only its width counts, on disk (uint8 store + pyramid + preview)."""
        size, res = self.context.run.sample.size, self.config.data.resolution
        channels, count = self.config.data.channels, self.context.run.sample.num_samples
        strip = self.config.extension.width if self.config.extension.enabled else None
        if size is not None and len(size) == 2 and size[1] > res:
            strip = size[1]
        if strip is not None:
            window = (
                64 * channels * res * res * 4
            )  # a window's state, its noise and the network's activations
            disk = channels * res * strip * 4 // 3 + channels * res * min(strip, 2048)
            return ResourceEstimate(600 * 2**20 + window, disk, f"a strip of {channels}×{res}×{strip}")
        pixels = count * channels * res * res
        what = f"{count} sample{'s' * (count > 1)} of {channels}×{res}×{res}"
        return ResourceEstimate(600 * 2**20 + pixels * 4 * 3, pixels * 2, what)

    def write_samples(self, folder: Path) -> list[str]:
        """PNGs and a side-by-side OME-Zarr mosaic; ranks generate disjoint batches of samples and
        share the mosaic's tiles, with the same bytes as one process."""
        ctx = self.context
        count, batch = ctx.run.sample.num_samples, self.config.sampling.batch_size
        starts = list(range(0, count, batch))[ctx.dist.rank :: ctx.dist.world_size]
        channels, res = self.space.channels, self.config.data.resolution
        images = torch.zeros(count, channels, res, res)
        for start in starts:  # batches as in one process, so each sample sees the same computation
            images[start : start + batch] = self.generate(min(batch, count - start), start)
        images = to_uint8(all_reduce_sum(images))  # exact: every sample is non-zero on one rank only
        mine = [i for start in starts for i in range(start, min(count, start + batch))]
        paths = [str(write_png(folder / f"sample_{i:04d}.png", images[i])) for i in mine]
        mosaic = images.transpose(1, 2, 0, 3).reshape(images.shape[1], images.shape[2], -1)
        url = str(folder / "samples.zarr")
        write_zarr(url, mosaic, on_tile_written=ctx.report_tile_written, provenance=ctx.provenance)
        return [*sorted(gather_lists(paths)), url]

    def extend(self, url: str, width: int) -> str:
        """A strip ``width`` pixels wide by the sliding window, streamed into ``url`` (a finished strip of
        the same run's fingerprint is kept as it is)."""
        if is_finished_store(url, self.context.provenance):
            return url
        cfg = self.config.extension
        samplers = {
            "sde": reverse_sde, "ddim": ddim,
            "ode": functools.partial(probability_flow, solver=self.config.sampling.solver),
        }  # fmt: skip
        stream_strip(
            self.model(self.config.sampling.use_ema), self.space, self.space.schedule(), url, width=width,
            columns=cfg.columns, steps_per_window=cfg.steps_per_window,
            generator=self.context.generator("strip", device="cpu"), window_time=cfg.window_time,
            sampler=samplers[cfg.sampler], tile_size=cfg.tile_size,
            on_tile_written=self.context.report_tile_written, provenance=self.context.provenance,
        )  # fmt: skip
        return url

    def complete(self, folder: Path) -> list[str]:
        """Complete a held-out crop from its left columns (Fig. 8): given | completed side by side."""
        image = self.images(1, seed_offset=2)[0]
        completed = complete_image(
            self.model(self.config.sampling.use_ema), self.space, self.space.schedule(), image,
            self.config.extension.given_columns, steps=self.config.sampling.steps,
            generator=self.context.generator("completion", device="cpu"),
        )  # fmt: skip
        pair = to_uint8(torch.cat([image, completed.clamp(-1, 1)], dim=-1))
        return [str(write_png(folder / "completion.png", pair))]

    def likelihood(self) -> dict[str, Any]:
        """NLL (bits/dim) of held-out crops with each configured ODE solver (same dequantisation, probes)."""
        cfg = self.config.likelihood
        images = self.images(cfg.num_images, seed_offset=1)
        results: dict[str, Any] = {"num_images": cfg.num_images, "solvers": {}}
        for solver in cfg.solvers:
            nll = negative_log_likelihood(
                self.model(self.config.sampling.use_ema), self.space, self.space.schedule(), images,
                dequantisation_generator=self.context.generator("dequantise", device="cpu"),
                probe_generator=self.context.generator("probes", device="cpu"), solver=solver,
                steps=cfg.steps, probe=cfg.probe, num_probes=cfg.num_probes, rtol=cfg.rtol, atol=cfg.atol,
                t_min=cfg.t_min,
            )  # fmt: skip
            bpd = nll.bits_per_dim.detach()
            results["solvers"][solver] = {
                "bits_per_dim": float(bpd.mean()),
                "per_image": [float(v) for v in bpd],
                "evaluations": nll.evaluations,
            }
            logger.info("NLL (%s): %.4f bits/dim", solver, float(bpd.mean()))
        means = [v["bits_per_dim"] for v in results["solvers"].values()]
        results["max_solver_difference"] = max(means) - min(means)
        return results


__all__ = ["GudPipeline"]
