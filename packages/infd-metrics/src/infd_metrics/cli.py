"""``infd metrics fid|fid-clip|pfid REAL FAKE``: metrics between image sets, with progress bars.

REAL and FAKE are image folders (paths or fsspec URLs), OME-Zarr stores, or saved statistics
(``.safetensors``). Weights are always given explicitly; nothing is downloaded.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click


def _common(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--batch-size", default=32, show_default=True, help="Images per forward pass."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--cache", "cache_dir", default=None, help="Folder/URL caching dataset statistics."),
        click.option("--convert-rgb", is_flag=True, help="Convert folders mixing grey and colour to RGB."),
        click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of text."),
        click.option("--no-progress", is_flag=True, help="No progress bars."),
        click.argument("fake"),
        click.argument("real"),
    ]
    return functools.reduce(lambda f, option: option(f), options, command)


def _extractor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--inception", default=None, help="clean-fid's inception-2015-12-05.pt (path/URL)."),
        click.option("--random-features", default=None, help="A random-features file (tests, smoke runs)."),
    ]
    return functools.reduce(lambda f, option: option(f), options, command)


def _inception_or_random(inception: str | None, random_features: str | None) -> Any:
    from infd_metrics.configs import InceptionConfig, RandomFeaturesConfig

    if random_features:
        return RandomFeaturesConfig(checkpoint=random_features)
    return InceptionConfig(checkpoint=inception or "")


def _measure(
    name: str,
    metric: Callable[..., float],
    extractor: Any,
    common: dict[str, Any],
    reported: dict[str, Any] | None = None,
    **kw: Any,
) -> None:
    """Run ``metric`` between the REAL and FAKE of ``common`` (the shared options) and print it."""
    from infd_core.cli.progress import TqdmProgress
    from infd_metrics.extractor import resolve_extractor

    real, fake = common["real"], common["fake"]
    progress = TqdmProgress(enabled=not common["no_progress"])
    try:
        loaded = resolve_extractor(extractor, common["device"])
        value = metric(
            real,
            fake,
            loaded,
            progress=progress,
            batch_size=common["batch_size"],
            cache=common["cache_dir"],
            convert_rgb=common["convert_rgb"],
            **kw,
        )
    finally:
        progress.close()
    if common["as_json"]:
        record = {"metric": name, "value": value, "real": real, "fake": fake, **(reported or {})}
        click.echo(json.dumps(record))
    else:
        click.echo(f"{name}: {value:.4f}")


@click.group(name="metrics")
def metrics_group() -> None:
    """FID, FID_CLIP and patch-FID between image folders, OME-Zarr stores or saved statistics."""


@metrics_group.command(name="fid")
@_extractor_options
@_common
def fid_command(inception: str | None, random_features: str | None, **common: Any) -> None:
    """FID between REAL and FAKE (clean-fid's Inception, given with --inception)."""
    from infd_metrics.metrics import fid

    _measure("fid", fid, _inception_or_random(inception, random_features), common)


@metrics_group.command(name="fid-clip")
@click.option(
    "--clip-checkpoint", default=None, help="open_clip weights (.safetensors, or .bin/.pt state dict)."
)
@click.option("--clip-model", default="ViT-B-32", show_default=True, help="open_clip architecture name.")
@click.option("--clip-config", default=None, help="Custom open_clip model config JSON (path/URL).")
@_common
def fid_clip_command(
    clip_checkpoint: str | None, clip_model: str, clip_config: str | None, **common: Any
) -> None:
    """FID_CLIP between REAL and FAKE: FID on CLIP image embeddings (Kynkäänniemi et al.)."""
    from infd_metrics.configs import ClipConfig
    from infd_metrics.metrics import fid_clip

    config = ClipConfig(model=clip_model, checkpoint=clip_checkpoint or "", model_config=clip_config)
    _measure("fid_clip", fid_clip, config, common)


@metrics_group.command(name="pfid")
@click.option("--patch-size", default=256, show_default=True, help="Crop side P.")
@click.option(
    "--resolution", default=None, type=int, help="Shorter image side R before cropping (default: native)."
)
@click.option("--crops-per-image", default=1, show_default=True, help="Random crops per image (or store).")
@click.option("--seed", default=0, show_default=True, help="Seed of the crop positions.")
@_extractor_options
@_common
def pfid_command(
    patch_size: int,
    resolution: int | None,
    crops_per_image: int,
    seed: int,
    inception: str | None,
    random_features: str | None,
    **common: Any,
) -> None:
    """Patch-FID (pFID-P/R) between REAL and FAKE; OME-Zarr crops are read lazily."""
    from infd_metrics.metrics import patch_fid

    _measure(
        "pfid",
        patch_fid,
        _inception_or_random(inception, random_features),
        common,
        reported={"patch_size": patch_size, "resolution": resolution},
        patch_size=patch_size,
        resolution=resolution,
        crops_per_image=crops_per_image,
        seed=seed,
    )
