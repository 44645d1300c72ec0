"""Radius graphs of 1-D point sets: sorted bucketing in O(M log M + E), and the O(M²) brute force.

Sorted in each curve, the points within ``r`` of x_i are one contiguous run, found by two binary searches
(x_i − r and x_i + r, widened by a few ulps): the 1-D form of grid bucketing, with no M × M comparison.
Each run's ends are then trimmed by the brute force's own test |x_i − x_j| ≤ r (rounding is monotone, so
the passing points stay one run), and both give the same edges also where rounding decides. The brute
force compares every pair; it is kept as the reference for tests and benchmarks.
"""

from __future__ import annotations

import torch

Edges = tuple[torch.Tensor, torch.Tensor]


def _tighten(
    ranked: torch.Tensor, x: torch.Tensor, bound: torch.Tensor, radius: float, step: int
) -> torch.Tensor:
    """Move each run's end ``bound`` inwards while its point fails |x_i − x_j| ≤ r (a few ulps at most)."""
    points = ranked.shape[1]
    while True:
        probe = bound if step > 0 else bound - 1  # first candidate (low end) or last one (high end)
        inside = (probe >= 0) & (probe < points)
        value = ranked.gather(1, probe.clamp(0, points - 1))
        outside = inside & ((x - value).abs() > radius)
        if not bool(outside.any()):
            return bound
        bound = bound + step * outside.to(bound.dtype)


def radius_graph(coords: torch.Tensor, radius: float) -> Edges:
    """Edges (receiver, sender) as flat indices into ``(B·M)`` for points ``(B, M, 1)`` within ``radius``
    of each other (self loops included, curves never connected); receivers ascending."""
    x = coords[..., 0]
    batch, points = x.shape
    order = x.argsort(dim=1)
    ranked = x.gather(1, order).contiguous()
    margin = 8 * torch.finfo(x.dtype).eps * (float(x.abs().max()) + radius) if x.numel() else 0.0
    low = torch.searchsorted(ranked, (x - radius - margin).contiguous(), side="left")  # (B, M)
    high = torch.searchsorted(ranked, (x + radius + margin).contiguous(), side="right")
    # rounding is monotone, so the points passing the brute force's test are still one run: trim its ends
    low, high = _tighten(ranked, x, low, radius, 1), _tighten(ranked, x, high, radius, -1)
    counts = (high - low).clamp_min(0).reshape(-1)
    first = torch.arange(batch, device=x.device)[:, None] * points + low  # run start in the flat order
    starts = torch.cumsum(counts, 0) - counts
    edges = int(counts.sum())
    position = torch.arange(edges, device=x.device) + (first.reshape(-1) - starts).repeat_interleave(
        counts, output_size=edges
    )
    flat_order = (order + torch.arange(batch, device=x.device)[:, None] * points).reshape(-1)
    receiver = torch.arange(batch * points, device=x.device).repeat_interleave(counts, output_size=edges)
    return receiver, flat_order[position]


def radius_graph_brute_force(coords: torch.Tensor, radius: float) -> Edges:
    """The same edges by comparing all M² pairs of each curve (reference; O(M²) time and memory)."""
    x = coords[..., 0]
    points = x.shape[1]
    close = (x[:, :, None] - x[:, None, :]).abs() <= radius
    b, i, j = close.nonzero(as_tuple=True)
    return b * points + i, b * points + j


__all__ = ["Edges", "radius_graph", "radius_graph_brute_force"]
