"""Sparse residual blocks of ∞-Diff (App. A): depthwise sparse conv, modulated layer norm, MLP."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from infd_inftydiff.model_config import DenoiserConfig
from infd_sparse import CoordinateBatch, NeighbourMap, SparseConvConfig, SparseDepthwiseConv


class ModulatedLayerNorm(nn.Module):
    """LayerNorm without affine parameters, then a per-sample scale and shift from the time embedding."""

    def __init__(self, channels: int, emb_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, elementwise_affine=False)
        self.emb = nn.Linear(emb_dim, 2 * channels)

    def forward(self, h: torch.Tensor, emb: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        scale, shift = self.emb(F.silu(emb)).chunk(2, dim=-1)
        return self.norm(h) * (1 + scale[batch]) + shift[batch]


class SparseResBlock(nn.Module):
    """x + MLP(ModLN(SparseDepthwiseConv(x))) — ConvNeXt-style with a three-layer MLP."""

    def __init__(self, channels: int, emb_dim: int, config: DenoiserConfig) -> None:
        super().__init__()
        conv = SparseConvConfig(
            channels=channels, kernel_size=config.kernel_size, backend=config.sparse_backend
        )
        self.conv = SparseDepthwiseConv(conv)
        self.norm = ModulatedLayerNorm(channels, emb_dim)
        hidden = channels * config.mlp_ratio
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, channels),
        )
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(
        self, x: torch.Tensor, emb: torch.Tensor, points: CoordinateBatch, nbrs: NeighbourMap, scale: float
    ) -> torch.Tensor:
        h = self.conv(x, nbrs, scale=scale)
        return x + self.mlp(self.norm(h, emb, points.batch))
