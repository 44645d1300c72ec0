"""PNG previews of any OME-Zarr image (bounded memory) and PNG/TIFF export of small ones.

Channels are mapped to 8-bit colour with the store's ``omero`` settings (colour and window per
channel), so a 3-channel uint8 image comes out exactly as stored and float32 data is windowed.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from PIL import Image

from infd_core.errors import OutputError, UsageError
from infd_core.outputs import filesystem
from infd_io.downsample import downsample_by
from infd_io.ngff import default_channels
from infd_io.store_info import open_image_group

logger = logging.getLogger(__name__)

PREVIEW_MAX_SIZE = 2048
EXPORT_MAX_PIXELS = 1 << 26  # 64 megapixels
_STRIP_BYTES = 64 << 20


def _channel_settings(
    body: dict[str, Any], channels: int, dtype: np.dtype
) -> list[tuple[np.ndarray, float, float]]:
    """(rgb colour in [0, 1], window start, window end) per channel, from ``omero`` or defaults."""
    entries = (body.get("omero") or {}).get("channels") or []
    limits = (0.0, 255.0) if dtype == np.uint8 else (0.0, 1.0)
    fallback = default_channels(channels)
    out = []
    for k in range(channels):
        entry = entries[k] if k < len(entries) else {}
        colour = str(entry.get("color", fallback[k][1]))
        rgb = np.array([int(colour[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float64) / 255.0
        window = entry.get("window", {})
        out.append((rgb, float(window.get("start", limits[0])), float(window.get("end", limits[1]))))
    return out


def to_display(block: np.ndarray, settings: Sequence[tuple[np.ndarray, float, float]]) -> np.ndarray:
    """(c, h, w) -> (h, w, 3) uint8: each channel windowed to [0, 1] and added in its colour."""
    height, width = block.shape[1:]
    image = np.zeros((height, width, 3), dtype=np.float64)
    for channel, (rgb, start, end) in zip(block, settings, strict=True):
        level = np.clip((channel.astype(np.float64) - start) / (end - start), 0.0, 1.0)
        image += level[..., None] * rgb
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def _pil_image(block: np.ndarray, settings: Sequence[tuple[np.ndarray, float, float]]) -> Image.Image:
    rgb = to_display(block, settings)
    grey = block.shape[0] == 1 and np.all(settings[0][0] == 1.0)
    return Image.fromarray(np.ascontiguousarray(rgb[..., 0]) if grey else rgb)


def _save(image: Image.Image, out: str, **options: Any) -> None:
    fs, path = filesystem(out)
    fmt = "TIFF" if PurePosixPath(path).suffix.lower() in (".tif", ".tiff") else "PNG"
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    try:
        parent = str(PurePosixPath(path).parent)
        if parent:
            fs.makedirs(parent, exist_ok=True)
        fs.pipe_file(path, buffer.getvalue())
    except OSError as exc:
        raise OutputError(f"{out}: cannot write: {exc.strerror or exc}") from None


def _downsampled_level(group: Any, body: dict[str, Any], max_size: int) -> tuple[np.ndarray, int]:
    """The first level that fits ``max_size``, or the last one reduced further strip by strip."""
    datasets = body["multiscales"][0]["datasets"]
    arrays = [group[d["path"]] for d in datasets]
    for level, array in enumerate(arrays):
        if max(array.shape[1:]) <= max_size:
            return np.asarray(array[...]), level
    array = arrays[-1]
    times = 0
    while max(-(-s // (1 << times)) for s in array.shape[1:]) > max_size:
        times += 1
    step = 1 << times
    row_bytes = array.shape[0] * array.shape[2] * array.dtype.itemsize
    strip = max(step, (_STRIP_BYTES // max(row_bytes, 1)) // step * step)
    parts = [
        downsample_by(np.asarray(array[:, y : min(y + strip, array.shape[1])]), times)
        for y in range(0, array.shape[1], strip)
    ]
    return np.concatenate(parts, axis=1), len(arrays) - 1 + times


def write_preview(url: str, out: str, max_size: int = PREVIEW_MAX_SIZE) -> tuple[int, int]:
    """Write a PNG of the image at ``url`` downsampled to at most ``max_size`` pixels per side;
    returns the preview's (height, width). Memory stays bounded for images of any size."""
    if max_size < 1:
        raise UsageError(f"max_size must be positive, got {max_size}")
    group, _, body = open_image_group(url)
    block, level = _downsampled_level(group, body, max_size)
    settings = _channel_settings(body, block.shape[0], block.dtype)
    _save(_pil_image(block, settings), out)
    logger.info("%s: preview from level %d, %dx%d, written to %s", url, level, *block.shape[1:], out)
    return block.shape[1], block.shape[2]


def export_image(url: str, out: str, level: int = 0, max_pixels: int = EXPORT_MAX_PIXELS) -> None:
    """Export one level of a small image to PNG (8-bit, windowed) or TIFF (by ``out``'s suffix).

    TIFF keeps uint8 data as RGB/greyscale and float32 data as one 32-bit float page per channel.
    """
    group, _, body = open_image_group(url)
    datasets = body["multiscales"][0]["datasets"]
    if not 0 <= level < len(datasets):
        raise UsageError(f"{url}: level {level} does not exist (levels 0..{len(datasets) - 1})")
    array = group[datasets[level]["path"]]
    pixels = int(array.shape[1]) * int(array.shape[2])
    if pixels > max_pixels:
        raise UsageError(
            f"{url}: level {level} has {pixels} pixels, more than {max_pixels} for export; "
            "export a smaller level or write a preview"
        )
    block = np.asarray(array[...])
    suffix = PurePosixPath(filesystem(out)[1]).suffix.lower()
    if suffix not in (".png", ".tif", ".tiff"):
        raise UsageError(f"{out}: export writes .png, .tif or .tiff files")
    if suffix != ".png" and block.dtype == np.float32:
        pages = [Image.fromarray(np.ascontiguousarray(channel)) for channel in block]
        _save(pages[0], out, save_all=True, append_images=pages[1:])
    elif suffix != ".png" and block.shape[0] in (1, 3):
        pixels_last = block[0] if block.shape[0] == 1 else np.moveaxis(block, 0, -1)
        _save(Image.fromarray(np.ascontiguousarray(pixels_last)), out)
    else:
        _save(_pil_image(block, _channel_settings(body, block.shape[0], block.dtype)), out)
