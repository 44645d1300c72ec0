"""The ∞-Diff denoiser (paper Fig. 4, App. A): sparse operators around a grid U-Net.

On the raw sparse coordinates: a linear lift, residual blocks of one count-normalised depthwise sparse
convolution and a three-layer MLP with time-modulated layer norm; interpolation onto a fixed inner
grid (the paper's k nearest neighbours, or bilinear splatting), the grid U-Net, bilinear interpolation
back to the points; sparse blocks with skip connections; a linear head predicting the mollified noise
Tξ. The same code runs on a random subset of pixels during training and on every pixel of a larger
image at sampling time: kernels are resized bilinearly to cover the same region of the image (∞-Diff
§5), so one implementation serves every resolution. The forward pass is written against an infd-sparse
:class:`~infd_sparse.evaluation.PointEvaluator`: neighbour maps on point sets (training), dense
conv2d/FFT kernels tile by tile on full grids (sampling, any size).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from infd_inftydiff.encoder import LatentEncoder
from infd_inftydiff.geometry import KernelGeometry, to_inner_grid
from infd_inftydiff.grid_unet import GridUNet
from infd_inftydiff.model_config import DenoiserConfig
from infd_inftydiff.sparse_blocks import SparseResBlock
from infd_sparse import (
    CoordinateBatch,
    NeighbourMap,
    PointEvaluator,
    WholeSet,
    grid_to_sparse,
)
from infd_sparse.evaluation import DEFAULT_TILE_POINTS


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of times ``t [B]`` in [0, 1] (scaled by 1000 as for 1000-step models)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, dim % 2))


class InftyDiffDenoiser(KernelGeometry, nn.Module):
    """``forward(values [N, C], points, t [B]) -> Tξ prediction [N, C]`` at any resolution."""

    def __init__(self, config: DenoiserConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DenoiserConfig()
        c = config.sparse_channels
        emb_dim = 4 * c
        self.time_mlp = nn.Sequential(nn.Linear(c, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        # diffusion autoencoder (§5): an encoder of clean images whose latent scales and shifts every block
        latent = config.latent_dim
        self.encoder = LatentEncoder(config) if latent else None
        self.lift = nn.Linear(config.in_channels, c)
        self.down = nn.ModuleList(
            SparseResBlock(c, emb_dim, config, latent) for _ in range(config.sparse_blocks)
        )
        self.grid = GridUNet(config.grid, c, c, emb_dim, latent_dim=latent)
        self.merge = nn.ModuleList(nn.Linear(2 * c, c) for _ in range(config.sparse_blocks))
        self.up = nn.ModuleList(
            SparseResBlock(c, emb_dim, config, latent) for _ in range(config.sparse_blocks)
        )
        self.out_norm = nn.LayerNorm(c)
        self.head = nn.Linear(c, config.out_channels)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def encode(
        self, values: torch.Tensor, points: CoordinateBatch, neighbours: NeighbourMap | None = None
    ) -> torch.Tensor:
        """Latent vectors ``[B, latent_dim]`` of clean images given at ``points`` (any subset, any size)."""
        if self.encoder is None:
            raise ValueError("this model has no encoder (model.latent_dim is 0)")
        nbrs = neighbours if neighbours is not None else self.neighbours(points)
        return self.encoder(WholeSet(points, nbrs), values, self.kernel_scale(points.grid))

    def encode_grid(self, images: torch.Tensor, tile_points: int = DEFAULT_TILE_POINTS) -> torch.Tensor:
        """Latent vectors of whole images ``[B, C, H, W]``, tile by tile (any size)."""
        if self.encoder is None:
            raise ValueError("this model has no encoder (model.latent_dim is 0)")
        b, c, h, w = images.shape
        tiles = self.grid_tiles(b, (h, w), tile_points, images.device)
        return self.encoder(tiles, images.permute(0, 2, 3, 1).reshape(-1, c), self.kernel_scale((h, w)))

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
        nbrs = neighbours if neighbours is not None else self.neighbours(points)
        return self.evaluate(WholeSet(points, nbrs), values, t, points.grid, latent)

    def evaluate(
        self,
        ev: PointEvaluator,
        values: torch.Tensor,
        t: torch.Tensor,
        grid: tuple[int, int],
        latent: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The denoiser over the evaluator's points (``grid``: the H × W the points live on)."""
        batch_size = ev.batch_size
        t = t.reshape(-1).expand(batch_size) if t.numel() == 1 else t.reshape(-1)
        scale = self.kernel_scale(grid)
        c = self.config.sparse_channels
        emb = self.time_mlp(timestep_embedding(t, c))
        if self.config.latent_dim:
            if latent is None or latent.shape != (batch_size, self.config.latent_dim):
                raise ValueError(f"this model needs a latent [{batch_size}, {self.config.latent_dim}]")
        else:
            latent = None
        h = ev.pointwise(lambda x, p: self.lift(x), values)
        skips = []
        for block in self.down:
            h = block.evaluate(ev, h, emb, scale, latent=latent)
            skips.append(h)
        inner = self.grid(to_inner_grid(ev, h, self.config), emb, latent=latent)
        h = ev.pointwise(lambda x, p: x + grid_to_sparse(inner, p), h)
        for merge, block in zip(self.merge, self.up, strict=True):
            h = block.evaluate(ev, h, emb, scale, skip=skips.pop(), merge=merge, latent=latent)
        return ev.pointwise(lambda x, p: self.head(self.out_norm(x)), h)
