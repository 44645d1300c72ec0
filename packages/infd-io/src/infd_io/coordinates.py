"""Pixel-centre coordinates and cell sizes in [-1, 1], rows first (the INFD / LIIF convention).

Pixel ``i`` of an axis with ``s`` pixels has its centre at ``(0.5 + i) / s`` in [0, 1], mapped to
``2 (0.5 + i) / s - 1``; its cell (pixel size) is ``2 / s``.
"""

from __future__ import annotations

import torch


def axis_centres(start: int, count: int, total: int) -> torch.Tensor:
    """Centres of pixels ``start .. start+count-1`` of an axis with ``total`` pixels."""
    index = torch.arange(start, start + count, dtype=torch.float64)
    return ((index + 0.5) / total * 2.0 - 1.0).to(torch.float32)


def pixel_centres(
    height: int, width: int, top: int = 0, left: int = 0, rows: int | None = None, cols: int | None = None
) -> torch.Tensor:
    """(rows, cols, 2) centres (y, x) of a window of an image with ``height`` × ``width`` pixels."""
    rows = height - top if rows is None else rows
    cols = width - left if cols is None else cols
    y = axis_centres(top, rows, height)
    x = axis_centres(left, cols, width)
    return torch.stack(torch.meshgrid(y, x, indexing="ij"), dim=-1)


def cell_sizes(height: int, width: int, rows: int, cols: int) -> torch.Tensor:
    """(rows, cols, 2) cells (2 / height, 2 / width) for every pixel of a window."""
    cell = torch.tensor([2.0 / height, 2.0 / width], dtype=torch.float32)
    return cell.expand(rows, cols, 2).clone()


def flat_index_centres(indices: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(n, 2) centres (y, x) of pixels given by row-major flat indices."""
    rows = torch.div(indices, width, rounding_mode="floor").to(torch.float64)
    cols = (indices % width).to(torch.float64)
    return torch.stack(((rows + 0.5) / height * 2.0 - 1.0, (cols + 0.5) / width * 2.0 - 1.0), -1).float()
