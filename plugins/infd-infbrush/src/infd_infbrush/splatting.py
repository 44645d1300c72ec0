"""Bilinear splatting onto the inner grid as additive sums, so it can be accumulated over chunks.

``sparse_to_grid_bilinear`` (infd-sparse) returns Σ w v / Σ w in one call; for chunked evaluation the
numerator and the denominator are summed over chunks first and divided once. Weights follow the same
convention (pixel centres in the unit square, bilinear corners clamped at the borders), which a test
checks against infd-sparse.
"""

from __future__ import annotations

import torch

from infd_sparse import CoordinateBatch


def bilinear_splat_sums(
    values: torch.Tensor, points: CoordinateBatch, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Σ w v [B·h·w, C], Σ w [B·h·w])`` of ``values [N, C]`` splatted onto an ``h × w`` grid."""
    h, w = size
    centres = points.centres(torch.float64)
    gy, gx = centres[:, 0] * h - 0.5, centres[:, 1] * w - 0.5
    y0, x0 = gy.floor(), gx.floor()
    fy, fx = gy - y0, gx - x0
    y0, x0 = y0.long(), x0.long()
    cells, weights = [], []
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yy, xx = (y0 + dy).clamp(0, h - 1), (x0 + dx).clamp(0, w - 1)
            cells.append((points.batch * h + yy) * w + xx)
            weights.append(wy * wx)
    cell = torch.stack(cells, 1).reshape(-1)
    weight = torch.stack(weights, 1).to(values.dtype)
    channels = values.shape[1]
    total = points.batch_size * h * w
    sums = values.new_zeros(total, channels).index_add(
        0, cell, (values[:, None, :] * weight[..., None]).reshape(-1, channels)
    )
    mass = values.new_zeros(total).index_add(0, cell, weight.reshape(-1))
    return sums, mass


def normalise_splat(
    sums: torch.Tensor, mass: torch.Tensor, batch_size: int, size: tuple[int, int], eps: float = 1e-8
) -> torch.Tensor:
    """``[B, C, h, w]`` = Σ w v / Σ w where Σ w > eps, else 0."""
    grid = torch.where(mass[:, None] > eps, sums / mass.clamp(min=eps)[:, None], torch.zeros_like(sums))
    return grid.view(batch_size, size[0], size[1], -1).permute(0, 3, 1, 2).contiguous()
