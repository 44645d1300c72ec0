"""``infd infbrush ...``: ∞-Brush's own commands (``embed``: an embedding table of an image folder)."""

from __future__ import annotations

import json

import click


@click.group("infbrush")
def infbrush_group() -> None:
    """∞-Brush tools."""


@infbrush_group.command("embed")
@click.argument("folder")
@click.option(
    "--out",
    required=True,
    help="Output table for data.embeddings: a .safetensors file, or a .zarr group (local or an fsspec "
    "URL; a table there is replaced, other content refused).",
)
@click.option("--clip", "checkpoint", required=True, help="Local open_clip weights (never downloaded).")
@click.option("--clip-model", default="ViT-B-32", show_default=True, help="open_clip architecture name.")
@click.option("--clip-architecture", default=None, help="JSON file or string of a custom architecture.")
@click.option("--device", default=None, help="cpu, cuda, ... (default: cuda if available).")
def embed_command(
    folder: str, out: str, checkpoint: str, clip_model: str, clip_architecture: str | None, device: str | None
) -> None:
    """Embed every image under FOLDER with an open_clip model: one vector per image, written as a
    table whose rows condition ∞-Brush (config: data.embeddings, model.condition.kind 'embedding').

    The table holds the array 'embeddings' [N, D] and the image paths 'files' (relative to FOLDER) and
    'encoder' text: safetensors metadata for a .safetensors --out, group attributes for a .zarr one."""
    from infd_infbrush.embed import embed_folder

    architecture = clip_architecture
    if clip_architecture is not None and clip_architecture.lstrip().startswith("{"):
        architecture = json.loads(clip_architecture)
    table = embed_folder(folder, out, checkpoint, clip_model, architecture, device)
    click.echo(f"wrote: {out} ({len(table.files)} embeddings of {table.dim} features)")
