"""Random ragged point sets and an independent dense reference for the count-normalised depthwise conv."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from infd_sparse import CoordinateBatch


def ragged(batch_size: int, grid: tuple[int, int], seed: int) -> CoordinateBatch:
    """Each sample keeps its own random fraction of pixels; the last sample is nearly empty."""
    generator = torch.Generator().manual_seed(seed)
    rates = torch.linspace(0.5, 0.03, batch_size)
    masks = torch.rand(batch_size, *grid, generator=generator) < rates[:, None, None]
    masks[0, 0, 0] = masks[0, -1, -1] = True  # corners: windows hanging over the border
    return CoordinateBatch.from_masks(masks)


def dense_reference(
    values: torch.Tensor, points: CoordinateBatch, weight: torch.Tensor, dilation: int = 1
) -> torch.Tensor:
    """Scatter to a zero image, conv2d(groups=C), divide by conv2d of the mask, read at the points."""
    height, width = points.grid
    channels, k = weight.shape[0], weight.shape[-1]
    image = values.new_zeros(points.batch_size, channels, height, width)
    rows, cols = points.coords[:, 0], points.coords[:, 1]
    image = image.index_put((points.batch, torch.arange(channels)[:, None], rows, cols), values.t())
    mask = values.new_zeros(points.batch_size, 1, height, width)
    mask[points.batch, 0, rows, cols] = 1.0
    pad = dilation * (k // 2)
    summed = F.conv2d(image, weight[:, None], padding=pad, dilation=dilation, groups=channels)
    count = F.conv2d(mask, torch.ones_like(weight[:1, None]), padding=pad, dilation=dilation)
    return (summed / count.clamp(min=1))[points.batch, :, rows, cols]
