"""The hook specifications of the ``infd`` plugin system.

A plugin is a module with functions decorated by :data:`infd_core.hookimpl`, declared under the
entry-point group ``infd``. Component hooks return lists of :class:`~infd_core.registry.ComponentSpec`;
they must stay cheap (no model code imported). Event hooks are called while runs progress.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from infd_core.events import CheckpointSavedEvent, TileWrittenEvent, TrainStepEvent
    from infd_core.registry import ComponentSpec

PROJECT = "infd"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def infd_schedules() -> list[ComponentSpec]:
    """Noise schedules (discrete or continuous; ᾱ, α, σ, β, logSNR per component)."""


@hookspec
def infd_measures() -> list[ComponentSpec]:
    """Gaussian measures that sample noise at arbitrary coordinates (white, mollified, GP, ...)."""


@hookspec
def infd_bases() -> list[ComponentSpec]:
    """Orthogonal bases in which diffusion runs (pixel, PCA, FFT, Haar, ...)."""


@hookspec
def infd_sparse_backends() -> list[ComponentSpec]:
    """Implementations of the sparse depthwise convolution (torch reference, Triton, ...)."""


@hookspec(firstresult=True)
def infd_choose_sparse_backend(device: str, dtype: str) -> str | None:
    """Name the sparse backend for ``device`` (``"cpu"``, ``"cuda"``) and ``dtype`` (``"float32"``),
    or return None to let the next plugin decide; the first answer wins (fallbacks use ``trylast``)."""


@hookspec
def infd_renderers() -> list[ComponentSpec]:
    """Neural-field renderers mapping features and query coordinates to values (LIIF, CLIF, ...)."""


@hookspec
def infd_samplers() -> list[ComponentSpec]:
    """Stateless sampling functions (DDPM, DDIM, probability-flow ODE, reverse SDE, ...)."""


@hookspec
def infd_models() -> list[ComponentSpec]:
    """Networks wrapped as denoisers or autoencoders."""


@hookspec
def infd_pipelines() -> list[ComponentSpec]:
    """Whole methods the runner can train and sample from a config (``infd run``)."""


@hookspec
def infd_datasets() -> list[ComponentSpec]:
    """Datasets yielding images, coordinate subsets, patches or functions."""


@hookspec
def infd_writers() -> list[ComponentSpec]:
    """Output writers (tiled OME-Zarr stores, previews, ...)."""


@hookspec(firstresult=True)
def infd_read_output(path: str) -> Any | None:
    """A written output (e.g. an OME-Zarr store) as a tensor, or None to let the next plugin try; the
    Python API returns these when no ``out`` is given (``LoadedPipeline.sample``)."""


@hookspec
def infd_metrics() -> list[ComponentSpec]:
    """Evaluation metrics (FID, patch-FID, functional statistics, ...)."""


@hookspec
def infd_cli_commands(cli: click.Group) -> None:
    """Add subcommands to the ``infd`` command line (``cli.add_command(...)``)."""


@hookspec
def infd_on_train_step(event: TrainStepEvent) -> None:
    """Called after every optimisation step, on every rank (loggers, dashboards)."""


@hookspec
def infd_on_tile_written(event: TileWrittenEvent) -> None:
    """Called after an output tile is fully written to its store; tiled renders write on a background
    thread behind the renderer, so it may be called from that thread (one call at a time per store)."""


@hookspec
def infd_on_checkpoint_saved(event: CheckpointSavedEvent) -> None:
    """Called after a checkpoint folder has been written atomically."""
