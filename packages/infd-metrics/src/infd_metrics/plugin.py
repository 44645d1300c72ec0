"""infd hooks of infd-metrics: feature extractors (models), metrics and the ``infd metrics`` command.

Kept light: nothing here imports torch, open_clip or the model code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from infd_core import ComponentSpec, hookimpl

if TYPE_CHECKING:
    import click

_CONFIGS = "infd_metrics.configs"


@hookimpl
def infd_models() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="fid-inception",
            factory="infd_metrics.inception:from_config",
            config=f"{_CONFIGS}:InceptionConfig",
            description="clean-fid's Inception (2048-d pool features) from a local inception-2015-12-05.pt",
        ),
        ComponentSpec(
            name="open-clip",
            factory="infd_metrics.clip:from_config",
            config=f"{_CONFIGS}:ClipConfig",
            description="open_clip image/text encoder from local weights, differentiable in the images",
        ),
        ComponentSpec(
            name="random-features",
            factory="infd_metrics.random_features:from_config",
            config=f"{_CONFIGS}:RandomFeaturesConfig",
            description="tiny random CNN features from a saved file (tests and smoke runs)",
        ),
    ]


@hookimpl
def infd_metrics() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="fid",
            factory="infd_metrics.components:FIDMetric.from_config",
            config=f"{_CONFIGS}:FIDConfig",
            description="Fréchet distance of features of whole images (FID; FID_CLIP with open-clip)",
        ),
        ComponentSpec(
            name="patch-fid",
            factory="infd_metrics.components:PatchFIDMetric.from_config",
            config=f"{_CONFIGS}:PatchFIDConfig",
            description="pFID-P/R: FID of random P×P crops of images at resolution R (lazy OME-Zarr crops)",
        ),
    ]


@hookimpl
def infd_cli_commands(cli: click.Group) -> None:
    from infd_metrics.cli import metrics_group

    cli.add_command(metrics_group)
