"""The funcdiff pipeline: DDPM in function space with GP noise on each curve's own points."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infd_core.checkpoints import Checkpoint, optimizer_state, restore_optimizer
from infd_core.ddp import (
    MicroBatch,
    accumulate_gradients,
    all_reduce_sum,
    plan_step,
    sample_generators,
    wrap_ddp,
)
from infd_core.pipeline import Pipeline, RunContext
from infd_core.preflight import ResourceEstimate
from infd_core.seeding import seeded_global_rng
from infd_funcdiff.config import FuncDiffConfig, NoiseConfig
from infd_funcdiff.curves import Curves, MinMaxScaling, grid_points, random_points
from infd_funcdiff.datasets import build_curves
from infd_funcdiff.errors import FuncDiffInputError
from infd_funcdiff.fno import FNO1d
from infd_funcdiff.gno import GraphNeuralOperator
from infd_funcdiff.losses import CurveNoise
from infd_funcdiff.sampling import Observations, sample_curves
from infd_funcdiff.statistics import plot_statistics, statistics_json
from infd_measures import DiscreteSchedule, GaussianProcess, StationaryKernel

logger = logging.getLogger(__name__)


def build_gp(noise: NoiseConfig) -> GaussianProcess:
    """The noise GP (``exponential`` is Matérn-½); kernel parameters are checked by infd-measures."""
    name = "matern12" if noise.kernel == "exponential" else noise.kernel
    return GaussianProcess(StationaryKernel(name, noise.variance, noise.length_scale), jitter=noise.jitter)


def build_model(config: FuncDiffConfig) -> torch.nn.Module:
    if config.model.kind == "fno":
        return FNO1d.from_config(config.model.fno)
    return GraphNeuralOperator.from_config(config.model.gno)


class FuncDiffPipeline(Pipeline):
    """Trains a neural operator to predict the GP noise ξ and samples curves at any points."""

    distributed_sampling = True  # ranks take disjoint samples / tiles
    # sampling settings and the step counts a resumed training run may change (to train longer)
    resume_settings = ("sampling", "train.steps")

    def __init__(self, config: FuncDiffConfig, context: RunContext) -> None:
        super().__init__(config, context)
        self.config: FuncDiffConfig = config
        self.gp = build_gp(config.noise)
        s = config.schedule
        self.schedule = DiscreteSchedule.linear(s.num_steps, s.beta_start, s.beta_end)
        # initial weights from (run seed, "init"), without touching the global generator
        with seeded_global_rng(context.run.seed, "init"):
            self.model = build_model(config).to(context.device)  # curves and GP noise stay on the CPU
        self.ema = copy.deepcopy(self.model).requires_grad_(False) if config.train.ema_decay > 0 else None
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.train.lr)
        self.scaling: MinMaxScaling | None = None
        self.train_points = 0
        self.step = 0
        self._curves: Curves | None = None

    # -- data -------------------------------------------------------------------------------------------
    def curves(self) -> Curves:
        """The training curves in data units (built once)."""
        if self._curves is None:
            self._curves = build_curves(self.config.data)
        return self._curves

    def _fit_scaling(self, curves: Curves) -> MinMaxScaling:
        if self.scaling is None:
            low, high = self.config.data.scale_range
            self.scaling = MinMaxScaling.fit(curves, low, high)
        return self.scaling

    # -- training ---------------------------------------------------------------------------------------
    def train(self) -> Mapping[str, float]:
        cfg = self.config.train
        curves = self.curves()
        scaling = self._fit_scaling(curves)
        if self.config.model.kind == "fno" and not curves.is_regular_grid:
            raise FuncDiffInputError(
                "the FNO trains on curves sharing one regular grid; use model.kind 'gno'"
            )
        noise = CurveNoise(self.gp, curves.coords, eigen=self.config.loss != "l2")
        values = torch.stack([scaling.forward(y) for y in curves.values])
        self.train_points = int(values.shape[1])
        lr_schedule = None
        if cfg.lr_step > 0:
            lr_schedule = torch.optim.lr_scheduler.StepLR(self.optimizer, cfg.lr_step, cfg.lr_gamma)
            lr_schedule.last_epoch = self.step
        loss_value = float("nan")
        model = wrap_ddp(self.model, self.context.dist)  # DDP when several ranks: gradients averaged
        self.model.train()

        def micro_loss(micro: MicroBatch) -> torch.Tensor:
            generators = sample_generators(self.context.run.seed, self.step, micro.indices)
            return self._loss(model, noise, values, generators, len(curves))

        plan = plan_step(cfg.batch_size, cfg.grad_accumulation, self.context.dist)
        while self.step < cfg.steps:
            self.optimizer.zero_grad(set_to_none=True)
            losses = accumulate_gradients(model, plan, micro_loss, self.step)
            self.optimizer.step()
            if lr_schedule is not None:
                lr_schedule.step()
            self._update_ema()
            self.step += 1
            loss_value = losses["loss"]
            self.context.report_train_step(self.step, cfg.steps, {"loss": loss_value})
        return {"loss": loss_value, "step": float(self.step)}

    def _loss(
        self,
        model: torch.nn.Module,
        noise: CurveNoise,
        values: torch.Tensor,
        generators: list[torch.Generator],
        num_curves: int,
    ) -> torch.Tensor:
        """Mean loss of one micro-batch; sample k's curve, time and GP noise come from generator k."""
        index = torch.cat([torch.randint(num_curves, (1,), generator=g) for g in generators])
        t = torch.cat([torch.randint(1, self.schedule.num_steps + 1, (1,), generator=g) for g in generators])
        xi = torch.cat([noise.sample(index[k : k + 1], g) for k, g in enumerate(generators)])
        alpha, sigma = self.schedule.alpha(t)[:, None], self.schedule.sigma(t)[:, None]
        x_t = alpha * values[index] + sigma * xi
        coords = noise.coords(index)
        device = self.context.device
        prediction = model(
            x_t.float()[..., None].to(device),
            (t.float() / self.schedule.num_steps).to(device),
            coords=coords.float()[..., None].to(device),
        )[..., 0].cpu()
        return noise.loss(
            self.config.loss,
            prediction.double() - xi,
            index,
            n_terms=self.config.spectral_terms,
            eig_floor=self.config.sobolev_eig_floor,
        ).mean()

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema is None:
            return
        decay = self.config.train.ema_decay
        for ema_p, p in zip(self.ema.parameters(), self.model.parameters(), strict=True):
            ema_p.lerp_(p, 1.0 - decay)

    # -- sampling ---------------------------------------------------------------------------------------
    def sampling_model(self) -> torch.nn.Module:
        return self.ema if self.ema is not None else self.model

    def sample_point_count(self) -> int:
        """How many points ``sample`` draws: ``run.sample.size[0]`` or the config's (default: as trained)."""
        size = self.context.run.sample.size
        count = (size[0] if size else None) or self.config.sampling.num_points
        return count or self.train_points or self.config.data.mogp.num_points

    def resource_estimate(self, out: str) -> ResourceEstimate:
        """Every curve is held (values, their all-reduced and rescaled copies, the sampler's state and its
        temporaries: ~8 float32 copies) and saved as float32 coordinates and values."""
        count, points = self.context.run.sample.num_samples, self.sample_point_count()
        values = count * points * 4
        what = f"{count} function{'s' * (count > 1)} at {points} points"
        return ResourceEstimate(600 * 2**20 + 8 * values, values + points * 4, what)

    def sample_points(self, num_points: int | None = None, irregular: bool | None = None) -> torch.Tensor:
        """Where ``sample`` draws: ``num_points`` or :meth:`sample_point_count` points."""
        count = num_points or self.sample_point_count()
        if irregular if irregular is not None else self.config.sampling.irregular:
            return random_points(count, self.context.generator("sample-points", device="cpu"))
        return grid_points(count)

    def generate(
        self,
        num_curves: int,
        points: torch.Tensor,
        *,
        observed: tuple[Any, Any] | None = None,
        free_steps: int = 0,
        seed_label: int = 0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Curves in data units at ``points`` (plus observed points when conditioning on
        ``observed = (coords, values in data units)``); returns (coords ``(M,)``, values ``(N, M)``)."""
        if self.scaling is None:
            raise FuncDiffInputError("the model has not been trained or loaded: no min–max scaling")
        observations = None
        if observed is not None:
            coords, values = (torch.as_tensor(v, dtype=torch.float64) for v in observed)
            observations = Observations(coords, self.scaling.forward(values), free_steps)
        cfg = self.config.sampling

        def on_step(done: int, total: int) -> None:
            self.context.report_progress("sample", done, total)

        coords, values = sample_curves(
            self.sampling_model(),
            self.schedule,
            self.gp,
            points,
            num_curves,
            seed=self.context.run.seed + seed_label,
            steps=min(cfg.steps, self.schedule.num_steps),
            batch_size=cfg.batch_size,
            observations=observations,
            on_step=on_step,
            rank=self.context.dist.rank,
            world_size=self.context.dist.world_size,
        )
        values = all_reduce_sum(values)  # each rank sampled disjoint chunks; exact (others are zero)
        return coords, self.scaling.inverse(values)

    def sample(self, out: str) -> list[str]:
        cfg = self.config.sampling
        points = self.sample_points()
        observed = None
        if cfg.condition is not None:
            observed = (cfg.condition.coords, cfg.condition.values)
        free = cfg.condition.free_steps if cfg.condition is not None else 0
        coords, values = self.generate(
            self.context.run.sample.num_samples, points, observed=observed, free_steps=free
        )
        folder = Path(out)
        if not self.context.dist.is_main:  # every rank holds every curve; rank 0 writes the files
            return []
        folder.mkdir(parents=True, exist_ok=True)
        written = [folder / "samples.npz"]
        np.savez(written[0], coords=coords.numpy(), values=values.numpy())
        if values.shape[0] >= 2:
            grid = grid_points(max(self.train_points, 8)).numpy()
            generated = np.stack([np.interp(grid, coords.numpy(), v) for v in values.numpy()])
            training = self.curves().on_points(torch.from_numpy(grid)).numpy()
            stats = statistics_json(generated, training)
            (folder / "statistics.json").write_text(json.dumps(stats, indent=1))
            written += [
                folder / "statistics.json",
                plot_statistics(grid, generated, training, folder / "statistics.png"),
            ]
            logger.info("functional statistics: %s", stats["comparison"])
        return [str(p) for p in written]

    # -- checkpoints ------------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
        tensors: dict[str, dict[str, torch.Tensor]] = {"model": dict(self.model.state_dict())}
        if self.ema is not None:
            tensors["ema"] = dict(self.ema.state_dict())
        optimizer_tensors, optimizer_tree = optimizer_state(self.optimizer, "optimizer")
        tensors["optimizer"] = optimizer_tensors
        meta = {
            "step": self.step,
            "scaling": self.scaling.to_dict() if self.scaling is not None else None,
            "noise": self.config.noise.model_dump(),
            "model_kind": self.config.model.kind,
            "train_points": self.train_points,
            "optimizer": optimizer_tree,
        }
        return tensors, meta

    def load_state(self, checkpoint: Checkpoint) -> None:
        meta = checkpoint.meta
        self.model.load_state_dict(checkpoint.state("model"))
        if self.ema is not None:
            self.ema.load_state_dict(checkpoint.tensors.get("ema", checkpoint.state("model")))
        restore_optimizer(checkpoint, "optimizer", self.optimizer)
        scaling = meta.get("scaling")
        self.scaling = MinMaxScaling(**scaling) if scaling else None
        self.train_points = int(meta.get("train_points") or 0)
        self.step = int(meta.get("step") or 0)


__all__ = ["FuncDiffPipeline", "build_gp", "build_model"]
