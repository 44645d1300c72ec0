"""Infinite image extension (GUD §5.2, App. C) and image completion (Fig. 8) with a column-wise schedule.

:func:`stream_strip` runs infd-samplers' sliding window and writes each block of finished columns into an
OME-Zarr :class:`~infd_io.TiledWriter` as soon as a tile's worth of columns is ready, so memory depends on
the window and tile sizes, not on the strip's length. :func:`complete_image` keeps the given left columns
by replacement conditioning while the rest is generated.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from infd_gud.conditioning import gamma_denoiser
from infd_gud.errors import GudUsageError
from infd_gud.space import ComponentSpace
from infd_io import TiledWriter
from infd_measures.bases.pixel import PixelBasis
from infd_measures.componentwise import ComponentwiseSchedule
from infd_samplers import ReplacementConditioning, reverse_sde, sliding_window
from infd_samplers.sliding_window import Sampler

logger = logging.getLogger(__name__)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images in [-1, 1] to uint8 (rounded)."""
    scaled = ((images.clamp(-1.0, 1.0) + 1.0) * 127.5).round()
    return scaled.to(torch.uint8).cpu().numpy()


def _check_columnwise(space: ComponentSpace, schedule: ComponentwiseSchedule, step: int | None) -> int:
    if (
        not isinstance(space.basis, PixelBasis)
        or not float(schedule.b) > 0
        or bool(schedule.level_offset.any())
    ):
        raise GudUsageError(
            "extension and completion need the pixel basis and a columnwise schedule with b > 0"
        )
    width = space.shape[1]
    if step is not None and not 1 <= step < width:
        raise GudUsageError(f"strip step k={step} must be >= 1 and < the training width {width}")
    return width


class _ColumnDecoder:
    """Whitened pixel-basis columns (state layout ``(B, C, H, L)``) back to pixel values."""

    def __init__(self, space: ComponentSpace) -> None:
        prior = space.prior
        height, width = space.shape
        self.mean = prior.mean.to(torch.float32)  # (C, H, L)
        self.scale = prior.scale.to(torch.float32).reshape(-1, height, width)  # (1 or C, H, L)

    def __call__(self, state: torch.Tensor, start: int) -> torch.Tensor:
        cols = slice(start, start + state.shape[-1])
        return state * self.scale[..., cols] + self.mean[..., cols]


def stream_strip(
    model: nn.Module,
    space: ComponentSpace,
    schedule: ComponentwiseSchedule,
    url: str,
    *,
    width: int,
    columns: int,
    steps_per_window: int,
    generator: torch.Generator,
    window_time: float | None = None,
    sampler: Sampler = reverse_sde,
    tile_size: int = 16,
    on_tile_written: Callable[[Any], None] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> TiledWriter:
    """Generate a strip ``(C, H, width)`` window by window (k = ``columns``) into OME-Zarr ``url``;
    ``sampler`` (any infd-samplers sampler) denoises each window. With ``provenance`` (the run's
    fingerprint) an interrupted strip of the same fingerprint keeps its written tiles (the windows are
    computed again, only unwritten tiles are stored) and another run's strip is refused; without it the
    store is replaced."""
    train_width = _check_columnwise(space, schedule, columns)
    if width < 2:
        raise GudUsageError(f"strip width must be >= 2, got {width}")
    channels, (height, _) = space.channels, space.shape
    windows = 1 + max(0, math.ceil((width - train_width) / columns))
    chunk = min(tile_size, max(8, 1 << (height - 1).bit_length()))
    writer = TiledWriter(
        url, (channels, height, width), "uint8", chunks=chunk, tile_size=tile_size,
        overwrite=provenance is None, value_range=(0.0, 255.0), on_tile_written=on_tile_written,
        provenance=provenance,
    )  # fmt: skip
    tile_rows = math.ceil(height / tile_size)
    decode = _ColumnDecoder(space)
    noise = torch.randn(1, channels, height, train_width, generator=generator)
    blocks = sliding_window(
        gamma_denoiser(model, schedule), noise, schedule, steps_per_window, columns=columns,
        generator=generator, num_windows=windows, window_time=window_time, sampler=sampler,
    )  # fmt: skip
    pending: list[np.ndarray] = []
    written = 0  # columns already written (a multiple of tile_size until the last tile)

    def flush(final: bool) -> None:
        nonlocal pending, written
        buffer = np.concatenate(pending, axis=-1) if pending else np.zeros((channels, height, 0), np.uint8)
        while written < width and (buffer.shape[-1] >= tile_size or (final and buffer.shape[-1] > 0)):
            take = min(tile_size, width - written)
            for row in range(tile_rows):
                y0, y1 = row * tile_size, min(height, (row + 1) * tile_size)
                writer.write_tile((row, written // tile_size), buffer[:, y0:y1, :take])
            written += take
            buffer = buffer[:, :, take:]
        pending = [buffer] if written < width else []

    with torch.no_grad():
        for block in blocks:
            pending.append(to_uint8(decode(block, 0)[0]))
            flush(final=False)
            logger.debug("strip: %d of %d columns written", written, width)
    flush(final=True)
    writer.finalize()
    return writer


def complete_image(
    model: nn.Module,
    space: ComponentSpace,
    schedule: ComponentwiseSchedule,
    image: torch.Tensor,
    given_columns: int,
    *,
    steps: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Complete ``image`` ``(C, H, W)`` in [-1, 1] from its ``given_columns`` left columns (Fig. 8)."""
    width = _check_columnwise(space, schedule, None)
    if not 1 <= given_columns < width:
        raise GudUsageError(f"given_columns must be in [1, {width - 1}], got {given_columns}")
    height = space.shape[0]
    observed = space.encode(image.unsqueeze(0).to(torch.float32)).reshape(1, space.channels, height, width)
    mask = torch.zeros_like(observed, dtype=torch.bool)
    mask[..., :given_columns] = True
    noise = torch.randn(observed.shape, generator=generator)
    guide = ReplacementConditioning(mask, observed)
    with torch.no_grad():
        state = reverse_sde(
            gamma_denoiser(model, schedule), noise, schedule, steps, generator=generator, guidance=guide
        )
    state = torch.where(mask, observed, state)
    return space.decode(state.reshape(1, space.channels, -1))[0]


__all__ = ["complete_image", "stream_strip", "to_uint8"]
