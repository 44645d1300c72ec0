"""Pixel-centre coordinates and cell sizes for any region of an image of any size.

Pixel ``i`` of an axis of ``n`` pixels has its centre at ``2 (i + 0.5) / n - 1`` in [-1, 1] (INFD and
LIIF convention, rows first: the last dimension holds ``(y, x)``); its cell is ``2 / n`` wide. Values
depend only on the absolute pixel index, so a crop of a 32768² image costs only the crop.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from infd_core.errors import UsageError

#: ((y0, y1), (x0, x1)), half-open pixel ranges.
Region = tuple[tuple[int, int], tuple[int, int]]


def image_size(size: int | Sequence[int]) -> tuple[int, int]:
    """``(height, width)`` from an int or a pair; refuses non-positive sizes."""
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if height < 1 or width < 1:
        raise UsageError(f"image size must be positive, got {height}x{width}")
    return height, width


def full_region(size: int | Sequence[int]) -> Region:
    height, width = image_size(size)
    return (0, height), (0, width)


def check_region(size: int | Sequence[int], region: Region | None) -> Region:
    """The region, validated against the image size (the whole image when ``None``)."""
    if region is None:
        return full_region(size)
    height, width = image_size(size)
    (y0, y1), (x0, x1) = (int(region[0][0]), int(region[0][1])), (int(region[1][0]), int(region[1][1]))
    if not (0 <= y0 < y1 <= height and 0 <= x0 < x1 <= width):
        raise UsageError(f"region {region} is empty or outside the {height}x{width} image")
    return (y0, y1), (x0, x1)


def pixel_centres(
    n: int,
    start: int = 0,
    stop: int | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Centres ``2 (i + 0.5) / n - 1`` of pixels ``start <= i < stop`` of an axis of ``n`` pixels.

    Computed in float64 from the absolute index and rounded once, so every pixel gets the same value
    whichever region it is rendered in.
    """
    stop = n if stop is None else stop
    index = torch.arange(start, stop, dtype=torch.float64, device=device)
    return ((2 * index + 1) / n - 1).to(dtype)


def coordinate_grid(
    size: int | Sequence[int],
    region: Region | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``(h, w, 2)`` pixel centres ``(y, x)`` of ``region`` of an image of ``size``."""
    height, width = image_size(size)
    (y0, y1), (x0, x1) = check_region((height, width), region)
    ys = pixel_centres(height, y0, y1, dtype=dtype, device=device)
    xs = pixel_centres(width, x0, x1, dtype=dtype, device=device)
    return torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1)


def cell_size(size: int | Sequence[int]) -> tuple[float, float]:
    """``(2 / height, 2 / width)``: a pixel's extent in [-1, 1] coordinates."""
    height, width = image_size(size)
    return 2.0 / height, 2.0 / width


def cell_grid(
    size: int | Sequence[int],
    region: Region | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``(h, w, 2)`` cell sizes of ``region`` (constant: every pixel of an image has the same cell)."""
    (y0, y1), (x0, x1) = check_region(size, region)
    cell = torch.tensor(cell_size(size), dtype=dtype, device=device)
    return cell.expand(y1 - y0, x1 - x0, 2)
