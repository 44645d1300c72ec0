"""The diffusion-autoencoder encoder of ∞-Diff (§5): "the downsampling part of our architecture".

The denoiser's own first half, as a separate network: the linear lift and the sparse residual blocks on
the (clean) input points, interpolation onto the inner grid (the model's ``interpolation``), then the
grid U-Net's stem, down blocks and bottleneck; global average pooling of the bottleneck and a linear map
give the latent vector. The encoder has no diffusion time: its blocks are modulated by one learned
embedding instead. It reads any subset of pixels at any resolution, so a low-resolution image (or the
known pixels of a masked one) can be encoded and sampled larger.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from infd_inftydiff.geometry import to_inner_grid
from infd_inftydiff.grid_unet import GridDownHalf
from infd_inftydiff.model_config import DenoiserConfig
from infd_inftydiff.sparse_blocks import SparseResBlock
from infd_sparse import PointEvaluator


class LatentEncoder(nn.Module):
    """``forward(evaluator, values [N, C], scale) -> latents [B, latent_dim]``."""

    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        if config.latent_dim < 1:
            raise ValueError("the encoder needs latent_dim >= 1")
        self.config = config
        c = config.sparse_channels
        emb_dim = 4 * c  # the denoiser's embedding width, so the blocks are the denoiser's blocks
        self.lift = nn.Linear(config.in_channels, c)
        self.emb = nn.Parameter(torch.zeros(1, emb_dim))
        self.blocks = nn.ModuleList(SparseResBlock(c, emb_dim, config) for _ in range(config.sparse_blocks))
        self.grid = GridDownHalf(config.grid, c, emb_dim)
        width = self.grid.bottleneck_channels
        self.out_norm = nn.GroupNorm(config.grid.groups, width)
        self.out = nn.Linear(width, config.latent_dim)

    def forward(self, ev: PointEvaluator, values: torch.Tensor, scale: float) -> torch.Tensor:
        """Latents of the clean images whose points the evaluator runs over."""
        emb = self.emb.expand(ev.batch_size, -1)
        h = ev.pointwise(lambda x, p: self.lift(x), values)
        for block in self.blocks:
            h = block.evaluate(ev, h, emb, scale)
        bottleneck, _ = self.grid.features(to_inner_grid(ev, h, self.config), emb)
        pooled = F.adaptive_avg_pool2d(F.silu(self.out_norm(bottleneck)), 1).flatten(1)
        return self.out(pooled)
