"""The runner: assembles a pipeline from a run config through the registry and runs it."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from infd_core.checkpoints import Checkpoint, load_checkpoint, read_checkpoint_header
from infd_core.config import RunConfig, load_run_config, resolve_run_config
from infd_core.config_files import SUFFIXES, apply_overrides
from infd_core.devices import resolve_device
from infd_core.distributed import barrier, current, gather_lists, init_distributed
from infd_core.errors import CheckpointMismatchError, InfdError, PluginError, UsageError
from infd_core.events import ProgressCallback
from infd_core.pipeline import Pipeline, RunContext
from infd_core.plugins import InfdPluginManager, get_plugin_manager
from infd_core.preflight import check_resources
from infd_core.registry import Registry, import_object
from infd_core.run_claims import (
    claim_on_main,
    claimed,
    sample_fingerprint,
    training_fingerprint,
    training_ignores,
)

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What a run produced."""

    checkpoint: str | None
    samples: list[str]
    metrics: dict[str, float]


class Runner:
    """Builds pipelines from run configs and trains / samples them."""

    def __init__(
        self, manager: InfdPluginManager | None = None, progress: ProgressCallback | None = None
    ) -> None:
        self.manager = manager or get_plugin_manager()
        self.progress = progress

    @property
    def registry(self) -> Registry:
        return self.manager.registry()

    def load_config(self, path: str, overrides: Iterable[str] = ()) -> RunConfig:
        """Read and validate a run config file."""
        return load_run_config(path, self.registry, overrides)

    def build(self, run: RunConfig) -> Pipeline:
        """Choose the device, join the process group and build the pipeline (nothing is written: the
        output locations are claimed by :meth:`train` and :meth:`sample`, after their checks)."""
        spec = self.registry.get("pipelines", run.pipeline)
        device = resolve_device(run.device, local_rank=current().local_rank)  # each rank its own GPU
        dist_info = init_distributed(device)
        context = RunContext(run, device, dist_info, self.registry, self.manager.hook, self.progress)
        pipeline = spec.load_factory()(run.config, context=context)
        if not isinstance(pipeline, Pipeline):
            raise PluginError(
                f"pipeline {spec.name!r} ({spec.distribution}): factory returned "
                f"{type(pipeline).__name__}, not an infd_core.pipeline.Pipeline"
            )
        return pipeline

    def train(self, run: RunConfig) -> RunResult:
        """Train (from ``train.resume`` if set), then save the checkpoint to ``<output>/checkpoint``.

        The checkpoint is checked against the config, then the output folder is claimed (refused when
        it holds a training run of other settings or another process is training into it), before any
        work."""
        pipeline = self.build(run)
        if run.train.resume is not None:
            restore(pipeline, run.train.resume)
        return self._train(pipeline)

    def _train(self, pipeline: Pipeline) -> RunResult:
        run = pipeline.context.run
        claim = claim_on_main(
            run.output, training_fingerprint(pipeline), kind="training run",
            overwrite=run.train.overwrite, ignore=training_ignores(pipeline),
        )  # fmt: skip
        with claimed(claim):
            metrics = dict(pipeline.train())
            tensors, meta = pipeline.state()
            url = pipeline.context.save_checkpoint(tensors, meta, step=meta.get("step"))
        logger.info("checkpoint written to %s", url)
        return RunResult(url, [], metrics)

    def sample(self, run: RunConfig) -> RunResult:
        """Load the checkpoint (the run's own unless ``sample.checkpoint``) and sample.

        Before any work: the resource estimate, the weights (checked against the config), then the
        output's claim (its provenance and lock)."""
        pipeline = self.build(run)
        url = run.sample.checkpoint
        if url is None and pipeline.requires_checkpoint:
            url = pipeline.context.checkpoint_url
        self.preflight(pipeline)
        if url is not None:
            restore(pipeline, url)
        return RunResult(url, self.claimed_samples(pipeline, url), {})

    def claimed_samples(self, pipeline: Pipeline, checkpoint: str | None) -> list[str]:
        """Claim the sample output for the fingerprint of ``checkpoint`` (already loaded), then sample."""
        run = pipeline.context.run
        fingerprint = sample_fingerprint(pipeline, checkpoint)
        claim = claim_on_main(
            self.sample_out(pipeline), fingerprint, kind="samples", overwrite=run.sample.overwrite
        )
        with claimed(claim):
            pipeline.context.provenance = fingerprint
            return self.write_samples(pipeline)

    def run(self, run: RunConfig) -> RunResult:
        """Train (if enabled), then sample (if enabled) with the same pipeline object."""
        if not (run.train.enabled or run.sample.enabled):
            raise UsageError("nothing to do: both train.enabled and sample.enabled are false")
        pipeline = self.build(run)
        url = run.sample.checkpoint  # after training, the trained weights are already in memory
        if url is None and not run.train.enabled and pipeline.requires_checkpoint:
            url = pipeline.context.checkpoint_url
        if not run.train.enabled:
            self.preflight(pipeline)
            if url is not None:
                restore(pipeline, url)
            return RunResult(url, self.claimed_samples(pipeline, url), {})
        if run.train.resume is not None:  # checked before the output folder is made
            restore(pipeline, run.train.resume)
        result = self._train(pipeline)
        if not run.sample.enabled:
            return result
        self.preflight(pipeline)
        if url is not None:
            restore(pipeline, url)
        samples = self.claimed_samples(pipeline, url or result.checkpoint)
        return dataclasses.replace(result, samples=samples)

    def preflight(self, pipeline: Pipeline) -> None:
        """Refuse a sampling run whose estimated memory or disk exceeds the machine's (unless
        ``sample.force``), before weights are loaded or anything of the output's size is allocated."""
        run = pipeline.context.run
        out = self.sample_out(pipeline)
        estimate = pipeline.resource_estimate(out)
        if estimate is not None:
            check_resources(estimate, out, str(pipeline.context.device), run.sample.force)

    @staticmethod
    def sample_out(pipeline: Pipeline) -> str:
        """The run's ``sample.out`` (default ``<output>/samples``)."""
        return pipeline.context.run.sample.out or f"{pipeline.context.output}/samples"

    def write_samples(self, pipeline: Pipeline) -> list[str]:
        """Sample a built (and restored) pipeline into :meth:`sample_out`; returns the paths written,
        gathered from every rank. (The runner's :meth:`sample` claims the output first.)"""
        out = self.sample_out(pipeline)
        dist_info = pipeline.context.dist
        if pipeline.distributed_sampling or not dist_info.distributed:
            return list(pipeline.sample(out))
        # a pipeline that does not share sampling among ranks: rank 0 samples, the others wait
        paths = list(pipeline.sample(out)) if dist_info.is_main else []
        barrier()
        return gather_lists(paths)

    def config_from_checkpoint(self, url: str, overrides: Iterable[str] = ()) -> RunConfig:
        """The run config stored in a checkpoint (sample settings reset), with overrides, sampling from it."""
        header = read_checkpoint_header(url)
        stored = dict(header.get("config", {}))
        # the training run's own sample settings do not carry over: defaults, then the overrides
        stored["sample"] = {"checkpoint": url}
        data = apply_overrides(stored, overrides)
        return resolve_run_config(data, self.registry, source=f"{url}/config.json")

    def demo_config(self, pipeline: str | None = None) -> dict[str, Any]:
        """The demo run config of ``pipeline`` (or, unnamed, of the only pipeline that has one)."""
        offering = [s for s in self.registry.specs("pipelines") if s.demo]
        if pipeline is not None:
            spec = self.registry.get("pipelines", pipeline)
            if not spec.demo:
                names = ", ".join(s.name for s in offering) or "none"
                raise UsageError(f"pipeline {pipeline!r} has no demo; pipelines with a demo: {names}")
        elif not offering:
            raise UsageError(
                "no installed pipeline offers a demo; install one (e.g. pip install infd-inftydiff)"
            )
        elif len(offering) > 1:
            names = ", ".join(sorted(s.name for s in offering))
            raise UsageError(f"several installed pipelines offer a demo ({names}); name one: infd demo NAME")
        else:
            spec = offering[0]
        try:
            config = import_object(spec.demo)()  # type: ignore[arg-type]
        except InfdError:
            raise
        except Exception as exc:
            raise PluginError(f"demo of {spec.name!r} ({spec.distribution}) failed to load: {exc}") from exc
        return dict(config)


def load_pipeline_checkpoint(url: str, pipeline: str) -> Checkpoint:
    """Load a checkpoint and check that it was written by ``pipeline``."""
    checkpoint = load_checkpoint(url)
    written_by = checkpoint.config.get("pipeline")
    if written_by != pipeline:
        raise CheckpointMismatchError(
            f"{url}: checkpoint was written by pipeline {written_by!r}, not {pipeline!r}"
        )
    return checkpoint


def restore(pipeline: Pipeline, url: str) -> None:
    """Load ``url`` into ``pipeline``; a checkpoint that does not fit is a CheckpointMismatchError."""
    checkpoint = load_pipeline_checkpoint(url, pipeline.context.run.pipeline)
    try:
        pipeline.load_state(checkpoint)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointMismatchError(
            f"{url}: does not fit this pipeline's model ({_one_line(exc)})"
        ) from None


def _one_line(exc: Exception, limit: int = 400) -> str:
    """An exception's message on one line (torch's load_state_dict spreads the reason over several)."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_checkpoint_folder(path: str) -> bool:
    """Whether ``path`` names a checkpoint folder rather than a config file (by suffix)."""
    return Path(path).is_dir() or Path(path).suffix.lower() not in SUFFIXES
