"""Independent references: the sparse convolution as a dense masked conv2d on the full grid."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from infd_sparse import CoordinateBatch

#: Where the Triton backend is tested: the GPU when there is one, else the CPU under Triton's interpreter.
TRITON_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def scatter_to_grid(values: torch.Tensor, points: CoordinateBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense ``[B, C, H, W]`` image (zeros where no point) and ``[B, 1, H, W]`` mask (differentiable)."""
    h, w = points.grid
    flat_index = (points.batch * h + points.coords[:, 0]) * w + points.coords[:, 1]
    dense = values.new_zeros(points.batch_size * h * w, values.shape[1]).index_add(0, flat_index, values)
    mask = values.new_zeros(points.batch_size * h * w).index_add(
        0, flat_index, values.new_ones(len(flat_index))
    )
    grid = dense.view(points.batch_size, h, w, -1).permute(0, 3, 1, 2)
    return grid, mask.view(points.batch_size, 1, h, w)


def dense_masked_conv(
    values: torch.Tensor,
    inputs: CoordinateBatch,
    outputs: CoordinateBatch,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    normalise: bool = True,
    dilation: int = 1,
    stride: int = 1,
) -> torch.Tensor:
    """conv2d(x · mask, w, groups=C) / conv2d(mask, 1) read at ``outputs.coords · stride``."""
    grid, mask = scatter_to_grid(values, inputs)
    channels, k = weight.shape[0], weight.shape[-1]
    pad = (k // 2) * dilation
    num = F.conv2d(grid, weight.reshape(channels, 1, k, k), padding=pad, dilation=dilation, groups=channels)
    ones = torch.ones(1, 1, k, k, dtype=mask.dtype, device=mask.device)
    count = F.conv2d(mask, ones, padding=pad, dilation=dilation)
    rows, cols = outputs.coords[:, 0] * stride, outputs.coords[:, 1] * stride
    out = num[outputs.batch, :, rows, cols]
    if normalise:
        out = out / count[outputs.batch, 0, rows, cols].clamp(min=1)[:, None]
    return out + bias if bias is not None else out


def ragged_points(batch_size: int, grid: tuple[int, int], generator: torch.Generator) -> CoordinateBatch:
    """Each sample keeps a different random fraction of pixels (some nearly empty, borders included)."""
    h, w = grid
    rates = torch.linspace(0.08, 0.6, batch_size)
    masks = torch.rand(batch_size, h, w, generator=generator) < rates[:, None, None]
    masks[0, 0, 0] = masks[-1, h - 1, w - 1] = True  # corners present
    return CoordinateBatch.from_masks(masks)
