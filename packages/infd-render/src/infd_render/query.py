"""The neural-field query: nearest feature, relative coordinate and relative cell per query point."""

from __future__ import annotations

import torch


def nearest_index(coords: torch.Tensor, n: int) -> torch.Tensor:
    """Index of the nearest of ``n`` feature cells to coordinates in [-1, 1].

    The same rule as ``grid_sample(mode="nearest", align_corners=False)``: ``round(((c + 1) n - 1) / 2)``
    with ties to even, clamped to the grid.
    """
    return torch.round(((coords + 1) * n - 1) / 2).clamp_(0, n - 1).long()


def gather_query(
    features: torch.Tensor,
    coords: torch.Tensor,
    cells: torch.Tensor | None,
    offset: tuple[float, float] = (0, 0),
) -> torch.Tensor:
    """``(B, *S, C + 2 [+ 2])`` query vectors for features ``(B, C, h, w)`` and coordinates ``(B, *S, 2)``;
    ``cells`` is ``(B, *S, 2)`` or ``(B, 2)``.

    Per point: the nearest feature vector (of the point shifted by ``offset``, for LIIF's local
    ensemble), the relative coordinate ``(query − nearest cell centre) × (h, w)`` and, when ``cells``
    is given, the relative cell ``cell × (h, w)``. Pointwise: each output depends on its own point only.
    The query has the coordinates' dtype (features of lower precision are widened).
    """
    batch, _, fh, fw = features.shape
    spatial = coords.shape[1:-1]
    if cells is not None and cells.dim() == 2:
        cells = cells.reshape(cells.shape[0], *([1] * len(spatial)), 2).expand_as(coords)
    if batch == 1 and coords.shape[0] > 1:  # several windows of one image: gather them as one batch
        merged = gather_query(
            features,
            coords.reshape(1, -1, 2),
            None if cells is None else cells.reshape(1, -1, 2),
            offset,
        )
        return merged.reshape(coords.shape[0], *spatial, -1)
    flat = coords.reshape(batch, -1, 2)
    shifted = flat
    if offset != (0, 0):
        shifted = (flat + flat.new_tensor(offset)).clamp(-1 + 1e-6, 1 - 1e-6)
    iy, ix = nearest_index(shifted[..., 0], fh), nearest_index(shifted[..., 1], fw)
    table = features.permute(0, 2, 3, 1).reshape(batch, fh * fw, -1)
    picked = torch.gather(table, 1, (iy * fw + ix).unsqueeze(-1).expand(-1, -1, table.shape[-1]))
    scale = flat.new_tensor([fh, fw])
    centre = torch.stack([(2 * iy + 1) / fh - 1, (2 * ix + 1) / fw - 1], dim=-1).to(flat.dtype)
    parts = [picked.to(flat.dtype), (flat - centre) * scale]
    if cells is not None:
        parts.append(cells.reshape(batch, -1, 2).to(flat.dtype) * scale)
    return torch.cat(parts, dim=-1).reshape(batch, *spatial, -1)
