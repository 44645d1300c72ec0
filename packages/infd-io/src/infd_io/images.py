"""Finding and decoding image files (local or fsspec), with a clear error for unreadable ones."""

from __future__ import annotations

import io
import os
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from infd_core.errors import UsageError
from infd_core.outputs import filesystem

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
_HIGH_BIT_MODES = {
    "I;16": 65535.0,
    "I;16B": 65535.0,
    "I;16L": 65535.0,
    "I;16N": 65535.0,
    "I": 65535.0,
    "F": 1.0,
}
_SWAPPING_ORIENTATIONS = (5, 6, 7, 8)
_ORIENTATION_TAG = 0x0112


#: environment variable that sets the largest image (in pixels) infd decodes
MAX_PIXELS_VAR = "INFD_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 1 << 26  # 67 megapixels: 805 MB as float32 RGB, before any model sees it


class ImageReadError(Exception):
    """A file that should be an image cannot be decoded."""


def max_image_pixels() -> int:
    """The pixel limit for decoded images (``INFD_MAX_IMAGE_PIXELS``, default 2^26)."""
    text = os.environ.get(MAX_PIXELS_VAR, "")
    try:
        value = int(text) if text else DEFAULT_MAX_PIXELS
    except ValueError:
        raise UsageError(f"{MAX_PIXELS_VAR}={text!r}: must be a whole number of pixels") from None
    if value < 1:
        raise UsageError(f"{MAX_PIXELS_VAR}={text!r}: must be positive")
    return value


def check_pixels(width: int, height: int) -> None:
    """Refuse an image larger than :func:`max_image_pixels` (checked from its header, before decoding:
    a small compressed file can hold a huge, memory-exhausting image)."""
    limit = max_image_pixels()
    if width * height > limit:
        raise ImageReadError(
            f"{width}x{height} is {width * height:,} pixels, more than the limit of {limit:,} "
            f"(set {MAX_PIXELS_VAR} to allow larger images)"
        )


def list_files(root: str) -> tuple[Any, list[str]]:
    """(filesystem, sorted file paths) under ``root``, recursively, hidden files excluded."""
    fs, path = filesystem(root)
    try:
        if not fs.exists(path):
            raise UsageError(f"{root}: no such folder")
        found = fs.find(path) if fs.isdir(path) else [path]
    except OSError as exc:
        raise UsageError(f"{root}: cannot be listed: {exc.strerror or exc}") from None
    base = path.rstrip("/")

    def hidden(file_path: str) -> bool:
        relative = file_path[len(base) :] if file_path.startswith(base) else PurePosixPath(file_path).name
        return any(part.startswith(".") for part in PurePosixPath(relative).parts if part != "/")

    return fs, sorted(p for p in found if not hidden(p))


def is_image_name(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in IMAGE_SUFFIXES


def _errors() -> tuple[type[BaseException], ...]:
    return (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def probe_image(fs: Any, path: str, verify: bool = True) -> tuple[int, int]:
    """(height, width) after EXIF orientation, from the header; ``verify`` also checks the whole
    file's structure (PNG checksums, truncation) at the cost of reading it."""
    try:
        with fs.open(path, "rb") as handle, Image.open(handle) as image:
            width, height = image.size
            check_pixels(width, height)
            orientation = image.getexif().get(_ORIENTATION_TAG, 1)
        if verify:
            with fs.open(path, "rb") as handle, Image.open(handle) as image:
                image.verify()
    except _errors() as exc:
        raise ImageReadError(f"{type(exc).__name__}: {exc}") from None
    return (width, height) if orientation in _SWAPPING_ORIENTATIONS else (height, width)


def decode_image(data: bytes, channels: int = 3) -> np.ndarray:
    """(channels, height, width) float32 in [0, 1]; 16-bit and float images keep their precision."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            check_pixels(*opened.size)  # from the header, before decoding
            opened.load()
            image = ImageOps.exif_transpose(opened)
            if image.mode in _HIGH_BIT_MODES:
                pixels = np.asarray(image, dtype=np.float32) / _HIGH_BIT_MODES[image.mode]
                pixels = np.clip(pixels, 0.0, 1.0)[None]
                return np.repeat(pixels, 3, axis=0) if channels == 3 else pixels
            converted = image.convert("RGB" if channels == 3 else "L")
            pixels = np.asarray(converted, dtype=np.float32) / 255.0
    except _errors() as exc:
        raise ImageReadError(f"{type(exc).__name__}: {exc}") from None
    return np.ascontiguousarray(np.moveaxis(pixels, -1, 0) if pixels.ndim == 3 else pixels[None])


def read_image(fs: Any, path: str, channels: int = 3) -> np.ndarray:
    """Read and decode one file (see :func:`decode_image`)."""
    try:
        data = fs.cat_file(path)
    except OSError as exc:
        raise ImageReadError(f"cannot read: {exc.strerror or exc}") from None
    return decode_image(data, channels)
