"""The Python API: load a checkpoint once, then sample from it as often as needed.

    from infd_core import load_pipeline

    pipe = load_pipeline("runs/ffhq/checkpoint")      # a folder or an fsspec URL
    images = pipe.sample(4, size=256, seed=0)         # (C, H, W) tensors
    paths = pipe.sample(1, size=8192, out="big.ome.zarr")  # or written to OME-Zarr, paths returned

Progress bars (``tqdm.auto``: a terminal bar, or a widget in notebooks) are on by default;
``load_pipeline(..., progress=False)`` turns them off.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from infd_core.config import RunConfig, dump_run_config, resolve_run_config
from infd_core.errors import UsageError
from infd_core.plugins import InfdPluginManager, get_plugin_manager

if TYPE_CHECKING:
    import torch

    from infd_core.pipeline import Pipeline
    from infd_core.runner import Runner


class LoadedPipeline:
    """A pipeline built from a checkpoint's config, holding the checkpoint's weights, ready to sample."""

    def __init__(self, pipeline: Pipeline, checkpoint: str, runner: Runner) -> None:
        self.pipeline = pipeline
        self.checkpoint = checkpoint
        self.runner = runner
        self._stored = dump_run_config(pipeline.context.run)

    @property
    def name(self) -> str:
        """The registered pipeline name (e.g. ``inftydiff``)."""
        return self.pipeline.context.run.pipeline

    @property
    def device(self) -> torch.device:
        return self.pipeline.context.device

    @property
    def config(self) -> Any:
        """The pipeline's own validated config (a pydantic model)."""
        return self.pipeline.config

    def sample(
        self,
        num: int = 1,
        size: int | Sequence[int] | None = None,
        *,
        seed: int | None = None,
        out: str | None = None,
        resume: bool = False,
        overwrite: bool = False,
        force: bool = False,
    ) -> list[torch.Tensor] | list[str]:
        """Draw ``num`` samples at ``size`` (default: the training size). Without ``out``, returns one
        tensor per image written (``(C, H, W)``, uint8 or float32 as stored); with ``out`` (a path or
        URL, e.g. ``samples.ome.zarr`` or a folder) the outputs stay there and their paths are returned.
        ``seed`` defaults to the checkpoint's; the same seed gives the same samples. An ``out`` holding
        samples of other settings is refused unless ``overwrite``; one of the same settings is continued.
        A run whose estimated memory or disk exceeds the machine's is refused unless ``force``."""
        sizes = [size] if isinstance(size, int) else list(size) if size is not None else None
        settings = {"checkpoint": self.checkpoint, "num_samples": num, "size": sizes, "resume": resume}
        settings |= {"force": force, "overwrite": overwrite}
        if out is not None:
            return self._run(settings | {"out": out}, seed)
        with tempfile.TemporaryDirectory(prefix="infd-samples-") as folder:
            paths = self._run(settings | {"out": folder}, seed)
            tensors = [self.runner.manager.hook.infd_read_output(path=path) for path in paths]
        images = [t for t in tensors if t is not None]
        if not images:
            written = ", ".join(p.rsplit("/", 1)[-1] for p in paths) or "nothing"
            raise UsageError(
                f"pipeline {self.name!r} wrote no output that can be returned as a tensor ({written}); "
                "pass out=... to keep its files"
            )
        return images

    def _run(self, settings: dict[str, Any], seed: int | None) -> list[str]:
        data = {**self._stored, "sample": settings, "seed": self._stored["seed"] if seed is None else seed}
        run: RunConfig = resolve_run_config(data, self.runner.registry, source="sample()")
        self.pipeline.context.run = run
        self.runner.preflight(self.pipeline)
        return self.runner.claimed_samples(self.pipeline, self.checkpoint)

    def __repr__(self) -> str:
        return f"LoadedPipeline({self.name!r}, checkpoint={self.checkpoint!r}, device={str(self.device)!r})"


def load_pipeline(
    checkpoint: str,
    *,
    device: str = "auto",
    progress: bool = True,
    overrides: Iterable[str] = (),
    manager: InfdPluginManager | None = None,
) -> LoadedPipeline:
    """Build the pipeline that wrote ``checkpoint`` (a folder or fsspec URL) and load its weights.

    ``device``: ``auto`` (a GPU when there is one), ``cpu``, ``cuda`` or ``cuda:N``; ``overrides`` change
    the stored config like ``--set`` (``"config.sampling.steps=50"``); ``progress=False`` draws no bars.
    """
    from infd_core.cli.progress import TqdmProgress
    from infd_core.runner import Runner, restore

    runner = Runner(manager or get_plugin_manager(), progress=TqdmProgress() if progress else None)
    run = runner.config_from_checkpoint(checkpoint, [f"device={device}", *overrides])
    pipeline = runner.build(run)
    restore(pipeline, checkpoint)
    return LoadedPipeline(pipeline, checkpoint, runner)


__all__ = ["LoadedPipeline", "load_pipeline"]
