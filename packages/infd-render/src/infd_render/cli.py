"""``infd render``: render a feature map at any size into OME-Zarr (+ a PNG preview)."""

from __future__ import annotations

import json
import logging
from typing import Any

import click

from infd_core.cli.commands import launch_if_requested, output_nproc_option

logger = logging.getLogger(__name__)


def _size(text: str) -> tuple[int, int]:
    try:
        parts = [int(v) for v in text.lower().split("x")]
    except ValueError:
        raise click.BadParameter(f"size must look like 1024 or 1024x768, got {text!r}") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 1:
        raise click.BadParameter(f"size must look like 1024 or 1024x768, got {text!r}")
    return parts[0], parts[1]


def load_features(path: str, key: str | None = None):
    """``(C, h, w)`` real, finite features from a ``.safetensors`` file (``key``, or its only tensor).

    The file is read as untrusted input (regular file, valid header, size matching it; never unpickled);
    every problem is a one-line UsageError naming ``path``."""
    import safetensors.torch

    from infd_core.checkpoint_files import read_errors, read_safetensors
    from infd_core.errors import CheckpointError, UsageError
    from infd_core.outputs import filesystem

    fs, local = filesystem(path)
    try:
        with read_errors(path):
            _, data = read_safetensors(fs, local, path, with_data=True)
        tensors = safetensors.torch.load(data)
    except CheckpointError as exc:
        raise UsageError(f"--features {exc}") from None
    except Exception as exc:  # safetensors' own error types
        raise UsageError(f"--features {path}: cannot be read as safetensors ({exc})") from None
    if key is None:
        if len(tensors) != 1:
            raise UsageError(f"{path} holds {sorted(tensors)}: name one with --features-key")
        key = next(iter(tensors))
    if key not in tensors:
        raise UsageError(f"{path} has no tensor {key!r} (has: {', '.join(sorted(tensors))})")
    return checked_features(tensors[key], f"{path} tensor {key!r}")


def checked_features(tensor, source: str):
    """``tensor`` as float ``(C, h, w)`` features (a leading batch of 1 is dropped); a complex, empty or
    non-finite tensor, or one of another rank, is a UsageError naming ``source``."""
    from infd_core.errors import UsageError

    if tensor.is_complex():
        raise UsageError(f"{source}: complex values ({tensor.dtype}); features must be real")
    features = tensor.float()
    features = features[0] if features.dim() == 4 and features.shape[0] == 1 else features
    if features.dim() != 3:
        raise UsageError(f"{source}: features must be (C, h, w), got {tuple(features.shape)}")
    if features.numel() == 0:
        raise UsageError(f"{source}: empty features {tuple(features.shape)}")
    if not bool(features.isfinite().all()):
        raise UsageError(f"{source}: features contain NaN or infinite values")
    return features


@click.command(name="render")
@click.option("--features", "features_path", help="A .safetensors feature map (C, h, w).")
@click.option("--features-key", default=None, help="Tensor name in --features (default: its only tensor).")
@click.option("--checkpoint", default=None, help="Checkpoint folder (renderer in config.json).")
@click.option("--renderer", "renderer_name", default="clif", show_default=True, help="clif or liif.")
@click.option("--config", "config_json", default=None, help="Renderer config as JSON.")
@click.option("--seed", default=0, show_default=True, help="Seed of random weights (without --checkpoint).")
@click.option("--size", required=True, help="Output size, e.g. 32768 or 4096x2048.")
@click.option("--out", required=True, help="OME-Zarr output (folder or URL).")
@click.option("--preview", default=None, help="PNG preview path (default: OUT without .ome.zarr, + .png).")
@click.option("--tile-size", default=1024, show_default=True, help="Tile = zarr shard side (power of 2).")
@click.option("--halo", default=None, type=int, help="Halo in pixels (default: receptive field).")
@click.option("--batch-size", default=1, show_default=True, help="Tiles per forward pass.")
@click.option(
    "--dtype",
    default="uint8",
    type=click.Choice(["uint8", "float32"]),
    show_default=True,
    help="Stored pixel type (uint8 maps [-1, 1] to 0..255).",
)
@click.option(
    "--precision",
    default="float32",
    type=click.Choice(["float32", "bfloat16"]),
    show_default=True,
    help="Arithmetic of the renderer (bfloat16 runs on GPU tensor cores; tiles stay exact).",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option(
    "--force", is_flag=True, help="Render even where the estimated memory or disk exceeds the machine's."
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted store (also what a rerun of the same inputs does).",
)
@click.option("--overwrite", is_flag=True, help="Replace a store rendered with other inputs or settings.")
@output_nproc_option
def render_command(
    features_path: str | None,
    features_key: str | None,
    checkpoint: str | None,
    renderer_name: str,
    config_json: str | None,
    seed: int,
    size: str,
    out: str,
    preview: str | None,
    tile_size: int,
    halo: int | None,
    batch_size: int,
    dtype: str,
    precision: str,
    device: str,
    force: bool,
    resume: bool,
    overwrite: bool,
    nproc: int | None,
) -> None:
    """Render features (a .safetensors map, or features.safetensors in --checkpoint) at --size.

    The store records what made it (features, weights, renderer config, size, dtype): an interrupted
    store of the same inputs is resumed (its done tiles kept), one of other inputs is refused
    (--overwrite replaces it), as is a store another process is rendering. Under torchrun (or with
    --nproc N) the ranks render disjoint tiles of the one store."""
    if launch_if_requested(nproc):
        return
    if resume and overwrite:
        raise click.UsageError(
            "--resume and --overwrite exclude each other: continue the store or replace it"
        )
    import torch

    from infd_core.devices import resolve_device
    from infd_core.distributed import init_distributed
    from infd_core.preflight import check_resources
    from infd_core.run_claims import claim_on_main, claimed
    from infd_io.export import write_preview
    from infd_io.naming import preview_path
    from infd_render.sinks import ZarrSink
    from infd_render.tiled import TiledRenderer

    height, width = _size(size)
    torch.manual_seed(seed)  # random weights when no checkpoint gives them
    registry = click.get_current_context().find_root().obj.registry()
    renderer, feature_tensor = checked_inputs(
        registry, features_path, features_key, checkpoint, renderer_name, config_json
    )  # every mismatch is found here, before the store exists
    target = resolve_device(device)
    info = init_distributed(target)  # under torchrun the ranks share the tiles of one store
    estimate = render_estimate(renderer, (height, width), dtype, tile_size, halo, batch_size)
    check_resources(estimate, out, str(target), force)  # before the store exists
    fingerprint = render_fingerprint(renderer, renderer_name, feature_tensor, (height, width), dtype)
    fingerprint |= {"precision": precision, "tile_size": tile_size, "halo": halo}
    claim = claim_on_main(out, fingerprint, kind="render", overwrite=overwrite)
    with claimed(claim):
        renderer = renderer.to(target, getattr(torch, precision)).eval()
        channels = int(renderer.config.out_channels)
        sink = ZarrSink.create_shared(
            out, (height, width), channels, dtype, tile_size=tile_size, chunks=min(256, tile_size),
            provenance=fingerprint,
        )  # fmt: skip
        tiler = TiledRenderer(renderer, tile_size, halo, batch_size=batch_size)
        written = tiler.render_to_sink(
            sink, feature_tensor, (height, width), rank=info.rank, world_size=info.world_size
        )
        sink.finalize()
    if not info.is_main:
        return
    preview = preview or preview_path(out)
    write_preview(out, preview)
    click.echo(f"{out}: {height}x{width}, {written} tiles; preview {preview}")


def render_estimate(
    renderer: Any, size: tuple[int, int], dtype: str, tile_size: int, halo: int | None, batch_size: int
) -> Any:
    """Peak memory (a batch of tiles with halos through the renderer's widest layer, ~8 copies) and disk
    (the store with its pyramid, ≤ 1/3 more, uncompressed) of a render."""
    from infd_core.preflight import ResourceEstimate

    config = renderer.config
    widths = getattr(config, "hidden_channels", 256)
    width = max(widths) if isinstance(widths, (list, tuple)) else int(widths)
    side = tile_size + 2 * (halo if halo is not None else 16)
    memory = 600 * 2**20 + batch_size * side * side * width * 4 * 8
    channels, itemsize = int(config.out_channels), 1 if dtype == "uint8" else 4
    disk = channels * size[0] * size[1] * itemsize * 4 // 3
    return ResourceEstimate(memory, disk, f"an image of {channels}×{size[0]}×{size[1]} ({dtype})")


def render_fingerprint(
    renderer: Any, name: str, features: Any, size: tuple[int, int], dtype: str
) -> dict[str, Any]:
    """What determines a rendered store's bytes: the features, the renderer (config and weights, be
    they a checkpoint's or seeded), the size, the stored dtype and the arithmetic."""
    from infd_core.provenance import tensors_digest, versions_fingerprint

    return {
        "command": "render",
        "renderer": name,
        "renderer_config": renderer.config.model_dump(mode="json"),
        "weights": tensors_digest(renderer.state_dict()),
        "features": tensors_digest({"features": features}),
        "size": list(size),
        "dtype": dtype,
        "versions": versions_fingerprint(["infd-core", "infd-render"]),
    }


def checked_inputs(
    registry: Any,
    features_path: str | None,
    features_key: str | None,
    checkpoint: str | None,
    renderer_name: str,
    config_json: str | None,
) -> tuple[Any, Any]:
    """The renderer (with the checkpoint's weights) and the ``(C, h, w)`` features, checked against each
    other: a config, checkpoint or feature map that does not fit is a one-line usage error."""
    from infd_core.checkpoints import load_checkpoint
    from infd_core.config import ComponentRef, build_component
    from infd_core.errors import CheckpointError, CheckpointMismatchError, UsageError

    state = None
    feature_tensor = None
    source = features_path
    try:
        config: Any = json.loads(config_json) if config_json else {}
    except (json.JSONDecodeError, RecursionError) as exc:
        raise UsageError(f"--config: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise UsageError(f"--config: must be a JSON object of renderer settings, got {type(config).__name__}")
    if checkpoint is not None:
        loaded = load_checkpoint(checkpoint)
        section = loaded.config.get("renderer", {})
        if not isinstance(section, dict) or not isinstance(section.get("config", {}), dict):
            raise CheckpointError(f"{checkpoint}: renderer in config.json must be {{name, config}} mapping")
        renderer_name, config = section.get("name", renderer_name), section.get("config", config)
        state = loaded.state("model")
        if features_path is None and "features" in loaded.tensors:
            stored = loaded.state("features")
            key = features_key or next(iter(stored))
            if key not in stored:
                raise UsageError(f"{checkpoint}: no features {key!r} (has: {', '.join(sorted(stored))})")
            source = f"{checkpoint} features {key!r}"
            feature_tensor = checked_features(stored[key], source)
    if feature_tensor is None:
        if features_path is None:
            raise UsageError("give --features FILE.safetensors (or a checkpoint with features.safetensors)")
        feature_tensor = load_features(features_path, features_key)
    renderer = build_component("renderers", ComponentRef(name=renderer_name, config=config), registry)
    if state is not None:
        try:
            renderer.load_state_dict({k.removeprefix("renderer."): v for k, v in state.items()})
        except RuntimeError as exc:
            reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            raise CheckpointMismatchError(
                f"{checkpoint}: weights do not fit its renderer config ({reason})"
            ) from None
    expected = getattr(renderer.config, "feature_channels", None)
    if expected is not None and feature_tensor.shape[0] != expected:
        raise UsageError(
            f"{source}: {feature_tensor.shape[0]} feature channels, but the {renderer_name} renderer "
            f"takes {expected} (feature_channels of its config)"
        )
    return renderer, feature_tensor
