"""Rendering φ = D(z) at any resolution (§4.4): tiled CLIF into OME-Zarr, and boxes of a canvas at a
fixed resolution (§5.5).

The canvas is streamed tile by tile through :class:`infd_render.TiledRenderer` into a
:class:`infd_render.ZarrSink` (infd-io's ``TiledWriter``): only φ (the decoder's resolution) and a
few tiles are ever in memory, whatever the output size.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from infd_core.distributed import current
from infd_core.errors import UsageError
from infd_io.naming import sample_store_url
from infd_render import TiledRenderer, ZarrSink

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def conv_impl(module: nn.Module, impl: str) -> Iterator[None]:
    """Temporarily switch every infd-render border conv of ``module`` to ``impl`` (``native``/``gemm``).

    Training and guidance use torch's ``conv2d`` (fast, differentiable); tiled output uses the
    configured implementation (``gemm`` is bit-exact across tiles).
    """
    convs = [m for m in module.modules() if hasattr(m, "impl") and isinstance(m, nn.Conv2d)]
    saved = [m.impl for m in convs]
    for m in convs:
        m.impl = impl
    try:
        yield
    finally:
        for m, old in zip(convs, saved, strict=True):
            m.impl = old


def box_grid(
    box: Sequence[float], canvas: tuple[int, int], resolution: int, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coordinates and cells ``(resolution, resolution, 2)`` of a ``resolution``² pixel grid covering
    ``box = [x0, y0, x1, y1]`` (canvas pixels) of a ``canvas = (H, W)`` image, in [−1, 1] (y, x)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    height, width = canvas
    steps = (torch.arange(resolution, dtype=torch.float64, device=device) + 0.5) / resolution
    ys = (y0 + steps * (y1 - y0)) * 2 / height - 1
    xs = (x0 + steps * (x1 - x0)) * 2 / width - 1
    coords = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1).float()
    cell = torch.tensor(
        [2 * (y1 - y0) / (resolution * height), 2 * (x1 - x0) / (resolution * width)], device=device
    )
    return coords, cell.expand(resolution, resolution, 2)


def check_box(box: Sequence[float], canvas: tuple[int, int], where: str = "box") -> None:
    """A box must lie inside the canvas."""
    x0, y0, x1, y1 = box
    height, width = canvas
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise UsageError(
            f"{where} {list(box)} is outside the {width}x{height} canvas (x0, y0, x1, y1 must satisfy "
            f"0 <= x0 < x1 <= {width} and 0 <= y0 < y1 <= {height})"
        )


def store_url(out: str, index: int, count: int) -> str:
    """:func:`infd_io.naming.sample_store_url`, refusing ``count`` > 1 samples into one ``.zarr`` store."""
    if out.rstrip("/").endswith(".zarr") and count > 1:
        raise UsageError(f"{out}: one store holds one image; give a folder to write {count} samples")
    return sample_store_url(out, index)


def render_to_zarr(
    renderer: Any,
    features: torch.Tensor,
    size: tuple[int, int],
    url: str,
    *,
    tile_size: int,
    chunk: int,
    batch_size: int = 1,
    precision: str = "float32",
    on_tile_written: Callable[[Any], None] | None = None,
    progress: Any = None,
    provenance: Mapping[str, Any] | None = None,
) -> list[str]:
    """Render ``features (C, h, w)`` at ``size`` tile by tile into OME-Zarr at ``url`` + a PNG preview.

    ``precision`` (``float32``/``bfloat16``) is the renderer's arithmetic: a cast copy renders, the
    model itself is left as it is. With ``provenance`` (the run's fingerprint) an interrupted store of
    the same fingerprint keeps its finished tiles (only the others are rendered) and another run's store
    is refused; without it the store is replaced.

    The store (metadata first) is created before the first tile; each tile goes to the store as soon as
    it is rendered. In a distributed run every rank calls this with the same ``features``: rank 0
    creates the store, each rank renders every world-size-th tile, the ranks share the pyramid
    (``infd_io.sharded``) and rank 0 writes the preview; tiles depend only on ``features`` and their
    position, so the store has the same bytes for any number of ranks.
    """
    from infd_io.export import write_preview
    from infd_io.naming import preview_path

    info = current()
    tile = min(tile_size, _pow2_at_least(max(size)))
    sink = ZarrSink.create_shared(
        url, size, int(renderer.config.out_channels), "uint8", tile_size=tile, chunks=min(chunk, tile),
        overwrite=provenance is None, on_tile_written=on_tile_written, provenance=provenance,
    )  # fmt: skip
    dtype = getattr(torch, precision)
    if next(renderer.parameters()).dtype != dtype:
        renderer = copy.deepcopy(renderer).to(dtype)
    tiler = TiledRenderer(renderer, tile, batch_size=batch_size, progress=progress)
    written = tiler.render_to_sink(sink, features, size, rank=info.rank, world_size=info.world_size)
    sink.finalize()  # every rank: the pyramid, level by level
    logger.info("%s: %dx%d, %d tiles by rank %d", url, size[0], size[1], written, info.rank)
    preview = preview_path(url)
    if info.is_main:
        write_preview(url, preview)
    return [url, preview]


def _pow2_at_least(n: int) -> int:
    p = 16
    while p < n:
        p *= 2
    return p
