"""The pipeline contract and the run context the runner hands to a pipeline."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from pydantic import BaseModel

from infd_core.checkpoints import Checkpoint, save_checkpoint
from infd_core.config import RunConfig, dump_run_config
from infd_core.distributed import DistInfo, barrier
from infd_core.events import (
    CheckpointSavedEvent,
    ProgressCallback,
    ProgressEvent,
    TileWrittenEvent,
    TrainStepEvent,
)
from infd_core.preflight import ResourceEstimate
from infd_core.registry import Registry
from infd_core.seeding import derive_generator


@dataclasses.dataclass
class RunContext:
    """Everything a pipeline needs from the runner: device, ranks, seeds, outputs, reporting."""

    run: RunConfig
    device: torch.device
    dist: DistInfo
    registry: Registry
    hooks: Any
    progress: ProgressCallback | None = None
    #: the fingerprint of the sample output being written (set by the runner before ``sample``); give it
    #: to every store written (``TiledWriter(provenance=...)``) so each one records what made it
    provenance: dict[str, Any] | None = None

    @property
    def output(self) -> str:
        return self.run.output.rstrip("/")

    @property
    def checkpoint_url(self) -> str:
        """Where this run's checkpoint lives (``<output>/checkpoint``)."""
        return f"{self.output}/checkpoint"

    def generator(self, *index: int | str, device: torch.device | str | None = None) -> torch.Generator:
        """A generator derived from the run seed and ``index`` (same result on any rank, any order)."""
        return derive_generator(self.run.seed, *index, device=device or self.device)

    def report_progress(
        self, task: str, step: int, total: int | None = None, metrics: Mapping[str, Any] | None = None
    ) -> None:
        """Forward progress to the callback (the CLI draws a bar)."""
        if self.progress is not None:
            self.progress(ProgressEvent(task, step, total, dict(metrics or {})))

    def report_train_step(self, step: int, total: int | None, metrics: Mapping[str, float]) -> None:
        """Call the ``infd_on_train_step`` hooks and the progress callback."""
        event = TrainStepEvent(self.run.pipeline, step, total, dict(metrics), self.dist.rank)
        self.hooks.infd_on_train_step(event=event)
        self.report_progress("train", step, total, metrics)

    def report_tile_written(self, event: TileWrittenEvent) -> None:
        """Call the ``infd_on_tile_written`` hooks."""
        self.hooks.infd_on_tile_written(event=event)

    def save_checkpoint(
        self,
        tensors: Mapping[str, Mapping[str, torch.Tensor]],
        meta: Mapping[str, Any] | None = None,
        step: int | None = None,
        url: str | None = None,
    ) -> str:
        """Write a checkpoint of this run (rank 0 writes, every rank waits) and announce it."""
        url = url or self.checkpoint_url
        if self.dist.is_main:
            save_checkpoint(url, dump_run_config(self.run), tensors, {**(meta or {}), "step": step})
            self.hooks.infd_on_checkpoint_saved(event=CheckpointSavedEvent(url, step))
        barrier()
        return url


class Pipeline(abc.ABC):
    """A whole method: builds its components from its config, trains, samples, saves and loads state.

    The factory registered through ``infd_pipelines`` is called as ``factory(config, context=ctx)``.
    """

    #: False for pipelines that can sample without training (e.g. a fixed prior).
    requires_checkpoint: ClassVar[bool] = True
    #: True when :meth:`sample` shares its work among the ranks of a distributed run (every rank calls
    #: it); False: the runner lets rank 0 sample alone while the other ranks wait.
    distributed_sampling: ClassVar[bool] = False
    #: Dotted keys (or sections) of the pipeline config that do not bind a training folder: sampling
    #: settings, and the step count a resumed run may raise to train longer; a change to any other key
    #: of a training folder's config is refused.
    resume_settings: ClassVar[tuple[str, ...]] = ("sampling",)

    def __init__(self, config: BaseModel, context: RunContext) -> None:
        self.config = config
        self.context = context

    @abc.abstractmethod
    def train(self) -> Mapping[str, float]:
        """Train from the current state (the runner restores it first when resuming); final metrics."""

    @abc.abstractmethod
    def sample(self, out: str) -> list[str]:
        """Sample as ``context.run.sample`` asks, write to ``out``; returns the paths written."""

    def provenance_config(self) -> Any:
        """The config part of a sample output's fingerprint (JSON-ready): by default the whole pipeline
        config; a pipeline may narrow it to what changes its samples."""
        if isinstance(self.config, BaseModel):
            return self.config.model_dump(mode="json")
        return self.config

    def resource_estimate(self, out: str) -> ResourceEstimate | None:
        """Estimated peak memory and disk of :meth:`sample` (None: no estimate; nothing is checked).

        The runner compares it with the machine before sampling (:mod:`infd_core.preflight`).
        """
        return None

    @abc.abstractmethod
    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
        """Tensors per checkpoint file (``{"model": ..., "ema": ...}``) and JSON-ready metadata."""

    @abc.abstractmethod
    def load_state(self, checkpoint: Checkpoint) -> None:
        """Restore what :meth:`state` saved."""
