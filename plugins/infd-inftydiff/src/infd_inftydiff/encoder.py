"""The diffusion-autoencoder encoder of ∞-Diff (§5): the downsampling half of the architecture.

Sparse residual blocks on the (clean) input points, bilinear splatting onto the inner grid, strided
convolutions down to a few cells, global average pooling and a linear map to the latent vector. It reads
any subset of pixels at any resolution, so a low-resolution image can be encoded and sampled larger.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from infd_inftydiff.geometry import to_inner_grid
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
        self.lift = nn.Linear(config.in_channels, c)
        self.emb = nn.Parameter(torch.zeros(1, 4 * c))  # blocks are time-modulated; the encoder has no time
        self.blocks = nn.ModuleList(SparseResBlock(c, 4 * c, config) for _ in range(config.sparse_blocks))
        layers: list[nn.Module] = []
        channels, side = c, config.grid.resolution
        groups = config.grid.groups
        while side > 2:
            out = min(channels * 2, config.grid.channels * max(config.grid.channel_mult))
            out -= out % groups
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.GroupNorm(groups, out), nn.SiLU()]
            channels, side = out, (side + 1) // 2
        self.down = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.SiLU(), *layers)
        self.out = nn.Linear(channels, config.latent_dim)

    def forward(self, ev: PointEvaluator, values: torch.Tensor, scale: float) -> torch.Tensor:
        """Latents of the clean images whose points the evaluator runs over."""
        emb = self.emb.expand(ev.batch_size, -1)
        h = ev.pointwise(lambda x, p: self.lift(x), values)
        for block in self.blocks:
            h = block.evaluate(ev, h, emb, scale)
        grid = self.down(to_inner_grid(ev, h, self.config))
        return self.out(F.adaptive_avg_pool2d(grid, 1).flatten(1))
