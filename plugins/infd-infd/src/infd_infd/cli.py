"""``infd layout``: CLIP-guided sampling of an INFD checkpoint from a layout file (§5.5).

Equivalent to ``infd sample CHECKPOINT --set config.sampling.layout={boxes: FILE, clip: {...}}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import click


@click.command("layout")
@click.argument("checkpoint")
@click.argument("layout_file", metavar="LAYOUT")
@click.option(
    "--clip", "clip_checkpoint", required=True, help="Local open_clip checkpoint (never downloaded)."
)
@click.option("--clip-model", default="ViT-B-32", show_default=True, help="open_clip architecture name.")
@click.option("--clip-architecture", default=None, help="JSON file or string of a custom architecture.")
@click.option("--scale", "guidance_scale", default=1.0, show_default=True, help="Guidance weight.")
@click.option("--size", help="Canvas size, e.g. 2048 or 2048x1024 (boxes are in its pixels).")
@click.option("--out", help="Output .zarr store (one sample) or folder.")
@click.option("--num", "num_samples", type=click.IntRange(min=1), help="Number of samples.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Further overrides.")
def layout_command(
    checkpoint: str,
    layout_file: str,
    clip_checkpoint: str,
    clip_model: str,
    clip_architecture: str | None,
    guidance_scale: float,
    size: str | None,
    out: str | None,
    num_samples: int | None,
    overrides: Sequence[str],
) -> None:
    """Sample CHECKPOINT (an INFD run) so that each box of LAYOUT matches its prompt under CLIP."""
    from infd_core.cli.commands import cli_runner, echo_result, sample_overrides

    architecture = clip_architecture
    if clip_architecture is not None and clip_architecture.lstrip().startswith("{"):
        architecture = json.loads(clip_architecture)
    layout = {
        "boxes": layout_file,
        "clip": {"model": clip_model, "checkpoint": clip_checkpoint, "architecture": architecture},
        "guidance_scale": guidance_scale,
    }
    extra = [f"config.sampling.layout={json.dumps(layout)}", *overrides]
    extra += sample_overrides(size, out, num_samples)
    runner = cli_runner()
    echo_result(runner.sample(runner.config_from_checkpoint(checkpoint, extra)))
