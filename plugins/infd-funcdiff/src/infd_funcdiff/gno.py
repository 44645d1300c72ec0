"""A graph neural operator on irregular 1-D points: radius graph, edge-conditioned kernel, mean aggregation.

Each layer computes v_i ← GELU(W v_i + mean_{j: |x_j − x_i| ≤ r} κ(x_i, x_j − x_i) ⊙ (U v_j) + b(t)),
κ an MLP of the edge geometry giving one weight per channel. The mean over the neighbourhood makes the
operator a quadrature of an integral kernel, so it applies at any set and number of points.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from infd_funcdiff.embedding import TimeEmbedding, split_inputs


def radius_graph(coords: torch.Tensor, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Edges (receiver, sender) as flat indices into ``(B·M)`` for points ``(B, M, 1)`` within ``radius``
    of each other (self loops included, curves never connected)."""
    x = coords[..., 0]
    points = x.shape[1]
    close = (x[:, :, None] - x[:, None, :]).abs() <= radius
    b, i, j = close.nonzero(as_tuple=True)
    return b * points + i, b * points + j


class GraphKernelLayer(nn.Module):
    def __init__(self, width: int, kernel_width: int) -> None:
        super().__init__()
        self.kernel = nn.Sequential(nn.Linear(2, kernel_width), nn.GELU(), nn.Linear(kernel_width, width))
        self.message = nn.Linear(width, width, bias=False)
        self.self_weight = nn.Linear(width, width)

    def forward(
        self, v: torch.Tensor, pos: torch.Tensor, edges: tuple[torch.Tensor, torch.Tensor], bias: torch.Tensor
    ) -> torch.Tensor:
        receiver, sender = edges
        geometry = torch.stack([pos[receiver], pos[sender] - pos[receiver]], dim=-1)
        messages = self.kernel(geometry) * self.message(v)[sender]
        total = torch.zeros_like(v).index_add_(0, receiver, messages)
        count = torch.zeros(v.shape[0], dtype=v.dtype, device=v.device).index_add_(
            0, receiver, torch.ones_like(receiver, dtype=v.dtype)
        )
        return self.self_weight(v) + total / count[:, None] + bias


class GraphNeuralOperator(nn.Module):
    """Lift (u, x) → width, ``layers`` graph-kernel layers with a time bias, project → 1.

    Called as ``model(x (B, M, 1), t (B,) in [0, 1], coords=(M, 1) or (B, M, 1))`` on any points.
    """

    def __init__(
        self,
        width: int = 32,
        layers: int = 3,
        radius: float = 0.1,
        kernel_width: int = 64,
        projection: int = 128,
    ) -> None:
        super().__init__()
        self.radius = float(radius)
        self.lift = nn.Linear(2, width)
        self.time = TimeEmbedding(width)
        self.layers = nn.ModuleList(GraphKernelLayer(width, kernel_width) for _ in range(layers))
        self.time_bias = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))
        self.project = nn.Sequential(nn.Linear(width, projection), nn.GELU(), nn.Linear(projection, 1))

    @classmethod
    def from_config(cls, config: Any) -> GraphNeuralOperator:
        return cls(config.width, config.layers, config.radius, config.kernel_width, config.projection)

    def forward(self, x: torch.Tensor, t: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        x, t, coords = split_inputs(x, t, coords)
        batch, points, _ = x.shape
        edges = radius_graph(coords, self.radius)
        pos = coords.reshape(-1)
        v = self.lift(torch.cat([x, coords], dim=-1)).reshape(batch * points, -1)
        emb = self.time(t)
        for layer, bias in zip(self.layers, self.time_bias, strict=True):
            per_point = bias(emb).repeat_interleave(points, dim=0)
            v = nn.functional.gelu(layer(v, pos, edges, per_point))
        return self.project(v).reshape(batch, points, 1)


__all__ = ["GraphKernelLayer", "GraphNeuralOperator", "radius_graph"]
