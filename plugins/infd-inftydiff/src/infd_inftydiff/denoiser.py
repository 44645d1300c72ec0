"""The ∞-Diff denoiser (paper Fig. 4, App. A): sparse operators around a grid U-Net.

On the raw sparse coordinates: a linear lift, residual blocks of one count-normalised depthwise sparse
convolution and a three-layer MLP with time-modulated layer norm; bilinear splatting onto a fixed inner
grid, the grid U-Net, bilinear interpolation back to the points; sparse blocks with skip connections;
a linear head predicting the mollified noise Tξ. The same code runs on a random subset of pixels during
training and on every pixel of a larger image at sampling time: kernels are resized bilinearly to cover
the same region of the image (∞-Diff §5), so one implementation serves every resolution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from infd_inftydiff.encoder import LatentEncoder
from infd_inftydiff.grid_unet import GridUNet
from infd_inftydiff.model_config import DenoiserConfig
from infd_inftydiff.sparse_blocks import SparseResBlock
from infd_sparse import (
    CoordinateBatch,
    NeighbourMap,
    build_neighbours,
    grid_to_sparse,
    resized_kernel_size,
    sparse_to_grid_bilinear,
)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of times ``t [B]`` in [0, 1] (scaled by 1000 as for 1000-step models)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, dim % 2))


class InftyDiffDenoiser(nn.Module):
    """``forward(values [N, C], points, t [B]) -> Tξ prediction [N, C]`` at any resolution."""

    def __init__(self, config: DenoiserConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DenoiserConfig()
        c = config.sparse_channels
        emb_dim = 4 * c
        self.time_mlp = nn.Sequential(nn.Linear(c, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        # diffusion autoencoder (§5): an encoder of clean images and the latent's share of the embedding
        self.encoder = LatentEncoder(config) if config.latent_dim else None
        self.latent_proj = nn.Linear(config.latent_dim, emb_dim) if config.latent_dim else None
        self.lift = nn.Linear(config.in_channels, c)
        self.down = nn.ModuleList(SparseResBlock(c, emb_dim, config) for _ in range(config.sparse_blocks))
        self.grid = GridUNet(config.grid, c, c, emb_dim)
        self.merge = nn.ModuleList(nn.Linear(2 * c, c) for _ in range(config.sparse_blocks))
        self.up = nn.ModuleList(SparseResBlock(c, emb_dim, config) for _ in range(config.sparse_blocks))
        self.out_norm = nn.LayerNorm(c)
        self.head = nn.Linear(c, config.out_channels)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def kernel_scale(self, points: CoordinateBatch) -> float:
        """Resolution of ``points`` relative to the training resolution (kernels are resized by it)."""
        return max(points.grid) / self.config.train_resolution

    def neighbours(self, points: CoordinateBatch) -> NeighbourMap:
        """The neighbour map all sparse blocks share (kernel size follows the resolution)."""
        size = resized_kernel_size(self.config.kernel_size, self.kernel_scale(points))
        return build_neighbours(points, kernel_size=size, backend=self.config.sparse_backend)

    def encode(
        self, values: torch.Tensor, points: CoordinateBatch, neighbours: NeighbourMap | None = None
    ) -> torch.Tensor:
        """Latent vectors ``[B, latent_dim]`` of clean images given at ``points`` (any subset, any size)."""
        if self.encoder is None:
            raise ValueError("this model has no encoder (model.latent_dim is 0)")
        nbrs = neighbours if neighbours is not None else self.neighbours(points)
        return self.encoder(values, points, nbrs, self.kernel_scale(points))

    def forward(
        self,
        values: torch.Tensor,
        points: CoordinateBatch,
        t: torch.Tensor,
        neighbours: NeighbourMap | None = None,
        latent: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if values.shape != (points.num_points, self.config.in_channels):
            raise ValueError(
                f"values must be [{points.num_points}, {self.config.in_channels}], got {list(values.shape)}"
            )
        t = t.reshape(-1).expand(points.batch_size) if t.numel() == 1 else t.reshape(-1)
        nbrs = neighbours if neighbours is not None else self.neighbours(points)
        scale = self.kernel_scale(points)
        c = self.config.sparse_channels
        emb = self.time_mlp(timestep_embedding(t, c))
        if self.latent_proj is not None:
            if latent is None or latent.shape != (points.batch_size, self.config.latent_dim):
                raise ValueError(f"this model needs a latent [{points.batch_size}, {self.config.latent_dim}]")
            emb = emb + self.latent_proj(latent)
        h = self.lift(values)
        skips = []
        for block in self.down:
            h = block(h, emb, points, nbrs, scale)
            skips.append(h)
        side = self.config.grid.resolution
        grid = self.grid(sparse_to_grid_bilinear(h, points, (side, side)), emb)
        h = h + grid_to_sparse(grid, points)
        for merge, block in zip(self.merge, self.up, strict=True):
            h = block(merge(torch.cat([h, skips.pop()], dim=-1)), emb, points, nbrs, scale)
        return self.head(self.out_norm(h))
