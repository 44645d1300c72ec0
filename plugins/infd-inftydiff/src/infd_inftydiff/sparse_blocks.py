"""Sparse residual blocks of ∞-Diff (App. A): depthwise sparse conv, modulated layer norm, MLP; the
norm's modulation also carries a diffusion-autoencoder latent when the model has one."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infd_inftydiff.grid_unet import latent_condition
from infd_inftydiff.model_config import DenoiserConfig
from infd_sparse import (
    CoordinateBatch,
    GridWindow,
    NeighbourMap,
    PointEvaluator,
    SparseConvConfig,
    SparseDepthwiseConv,
)


class ModulatedLayerNorm(nn.Module):
    """LayerNorm without affine parameters, then a per-sample scale and shift from the time embedding;
    with ``latent_dim`` > 0, then a per-sample scale and shift ``(s_z, b_z) = W z`` from the autoencoder
    latent z."""

    def __init__(self, channels: int, emb_dim: int, latent_dim: int = 0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, elementwise_affine=False)
        self.emb = nn.Linear(emb_dim, 2 * channels)
        self.latent = nn.Linear(latent_dim, 2 * channels) if latent_dim else None

    def forward(
        self, h: torch.Tensor, emb: torch.Tensor, points: CoordinateBatch, latent: torch.Tensor | None = None
    ) -> torch.Tensor:
        scale, shift = self.emb(F.silu(emb)).chunk(2, dim=-1)
        gain = 1 + scale
        if self.latent is not None:  # then the latent's scale and shift: (ĥ (1 + s) + b)(1 + s_z) + b_z
            latent_scale, latent_shift = latent_condition(self.latent, latent).chunk(2, dim=-1)
            gain, shift = gain * (1 + latent_scale), shift * (1 + latent_scale) + latent_shift
        normed = self.norm(h)
        if isinstance(points, GridWindow):  # samples are equal runs of rows: broadcast, no gather
            runs = normed.view(points.batch_size, -1, normed.shape[-1])
            return (runs * gain[:, None] + shift[:, None]).view(normed.shape)
        return normed * gain[points.batch] + shift[points.batch]


class SparseResBlock(nn.Module):
    """x + MLP(ModLN(SparseDepthwiseConv(x))) — ConvNeXt-style with a three-layer MLP."""

    def __init__(self, channels: int, emb_dim: int, config: DenoiserConfig, latent_dim: int = 0) -> None:
        super().__init__()
        conv = SparseConvConfig(
            channels=channels, kernel_size=config.kernel_size, backend=config.sparse_backend
        )
        self.conv = SparseDepthwiseConv(conv)
        self.norm = ModulatedLayerNorm(channels, emb_dim, latent_dim)
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
        self,
        x: torch.Tensor,
        emb: torch.Tensor,
        points: CoordinateBatch,
        nbrs: NeighbourMap,
        scale: float,
        latent: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.update(x, self.conv(x, nbrs, scale=scale), emb, points, latent)

    def update(
        self,
        x: torch.Tensor,
        mixed: torch.Tensor,
        emb: torch.Tensor,
        points: CoordinateBatch,
        latent: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The pointwise rest of the block, given the convolution's output ``mixed``."""
        return x + self.mlp(self.norm(mixed, emb, points, latent))

    def evaluate(
        self,
        ev: PointEvaluator,
        x: torch.Tensor,
        emb: torch.Tensor,
        scale: float,
        skip: torch.Tensor | None = None,
        merge: nn.Module | None = None,
        latent: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The block over an evaluator's points: the convolution as a channelwise local stage (tiles with
        a halo, a few channels at a time), the rest pointwise. With ``merge``, the input is
        ``merge([x, skip])``."""

        def conv(v: torch.Tensor, p: CoordinateBatch, n: Any, channels: slice = slice(None)) -> torch.Tensor:
            return self.conv(v, n, scale=scale, channels=channels)

        if merge is None:
            mixed = ev.local(conv, x, channelwise=True)
            return ev.pointwise(lambda v, m, p: self.update(v, m, emb, p, latent), x, mixed)
        joined = ev.pointwise(lambda v, s, p: merge(torch.cat([v, s], dim=-1)), x, skip)
        mixed = ev.local(conv, joined, channelwise=True)
        return ev.pointwise(lambda j, m, p: self.update(j, m, emb, p, latent), joined, mixed)
