"""A graph neural operator on irregular 1-D points: radius graph, edge-conditioned kernel, mean aggregation.

Each layer computes v_i ← GELU(W v_i + mean_{j: |x_j − x_i| ≤ r} m_ij + b(t)) with the message m_ij either

* ``diagonal``: κ(x_i, x_j − x_i) ⊙ (U v_j), κ an MLP of the edge geometry giving one weight per channel
  times a shared linear map U, or
* ``matrix``: K(x_i, x_j − x_i) v_j, K an MLP giving a full C × C matrix per edge (the edge-conditioned
  convolution of the reference, NNConv with mean aggregation).

The mean over the neighbourhood makes the operator a quadrature of an integral kernel, so it applies at
any set and number of points. The radius graph is found by sorted bucketing (``neighbours``), not O(M²).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from infd_funcdiff.embedding import TimeEmbedding, split_inputs
from infd_funcdiff.neighbours import Edges, radius_graph


def _mean_over_receivers(v: torch.Tensor, receiver: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
    count = torch.zeros(v.shape[0], dtype=v.dtype, device=v.device).index_add_(
        0, receiver, torch.ones_like(receiver, dtype=v.dtype)
    )
    return total / count[:, None]


class GraphKernelLayer(nn.Module):
    """The diagonal kernel: κ(x_i, x_j − x_i) ⊙ (U v_j), one weight per channel and edge."""

    def __init__(self, width: int, kernel_width: int) -> None:
        super().__init__()
        self.kernel = nn.Sequential(nn.Linear(2, kernel_width), nn.GELU(), nn.Linear(kernel_width, width))
        self.message = nn.Linear(width, width, bias=False)
        self.self_weight = nn.Linear(width, width)

    def forward(self, v: torch.Tensor, pos: torch.Tensor, edges: Edges, bias: torch.Tensor) -> torch.Tensor:
        receiver, sender = edges
        geometry = torch.stack([pos[receiver], pos[sender] - pos[receiver]], dim=-1)
        messages = self.kernel(geometry) * self.message(v)[sender]
        total = torch.zeros_like(v).index_add_(0, receiver, messages)
        return self.self_weight(v) + _mean_over_receivers(v, receiver, total) + bias


class MatrixKernelLayer(nn.Module):
    """The full kernel: an edge MLP gives K(x_i, x_j − x_i) ∈ R^{C×C}, the message is K v_j.

    Edges are processed ``edge_chunk`` at a time, so the E × C × C kernels are never all held at once
    in inference (training keeps each chunk's activations for the backward pass)."""

    def __init__(self, width: int, kernel_width: int, edge_chunk: int = 1 << 16) -> None:
        super().__init__()
        self.width, self.edge_chunk = width, int(edge_chunk)
        self.kernel = nn.Sequential(
            nn.Linear(2, kernel_width), nn.GELU(), nn.Linear(kernel_width, width * width)
        )
        self.self_weight = nn.Linear(width, width)

    def kernels(self, receiver_pos: torch.Tensor, sender_pos: torch.Tensor) -> torch.Tensor:
        """K ``(..., C, C)`` for edges given by their end positions."""
        geometry = torch.stack([receiver_pos, sender_pos - receiver_pos], dim=-1)
        return self.kernel(geometry).unflatten(-1, (self.width, self.width))

    def forward(self, v: torch.Tensor, pos: torch.Tensor, edges: Edges, bias: torch.Tensor) -> torch.Tensor:
        receiver, sender = edges
        total = torch.zeros_like(v)
        for start in range(0, receiver.shape[0], self.edge_chunk):
            r, s = receiver[start : start + self.edge_chunk], sender[start : start + self.edge_chunk]
            messages = (self.kernels(pos[r], pos[s]) @ v[s].unsqueeze(-1)).squeeze(-1)
            total = total.index_add(0, r, messages)
        return self.self_weight(v) + _mean_over_receivers(v, receiver, total) + bias


LAYERS: dict[str, type[nn.Module]] = {"diagonal": GraphKernelLayer, "matrix": MatrixKernelLayer}


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
        kernel: str = "diagonal",
    ) -> None:
        super().__init__()
        if kernel not in LAYERS:
            raise ValueError(f"kernel must be one of {sorted(LAYERS)}, got {kernel!r}")
        self.radius = float(radius)
        self.lift = nn.Linear(2, width)
        self.time = TimeEmbedding(width)
        self.layers = nn.ModuleList(LAYERS[kernel](width, kernel_width) for _ in range(layers))
        self.time_bias = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))
        self.project = nn.Sequential(nn.Linear(width, projection), nn.GELU(), nn.Linear(projection, 1))

    @classmethod
    def from_config(cls, config: Any) -> GraphNeuralOperator:
        return cls(
            config.width, config.layers, config.radius, config.kernel_width, config.projection, config.kernel
        )

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


__all__ = ["LAYERS", "GraphKernelLayer", "GraphNeuralOperator", "MatrixKernelLayer", "radius_graph"]
