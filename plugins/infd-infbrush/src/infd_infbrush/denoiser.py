"""The ∞-Brush conditional denoiser: sparse neural operator + cross-/self-attention operators + grid level.

Sparse level (∞-Diff's depthwise sparse residual blocks, imported from infd-inftydiff), then per block a
cross-attention operator whose sources are the time embedding, the condition tokens and (optionally) the
coordinate embeddings of the points, and a linear self-attention operator over the points; the grid
level splats onto ∞-Diff's inner grid U-Net (global information) and reads back; sparse up-blocks with
skips; a head predicting the mollified noise Tξ. The pooled condition also enters the time embedding
that modulates every block and the U-Net.

The forward pass is written once against infd-sparse's :class:`~infd_sparse.evaluation.PointEvaluator`,
so the same code runs on a random subset of pixels at once (training, neighbour maps) and on every pixel
of a large image tile by tile with dense kernels and bounded memory (sampling): attention sums and grid
splats are reduced over all tiles before they are applied to any tile.
"""

from __future__ import annotations

import torch
from torch import nn

from infd_infbrush.attention import KeyValueSums, LinearCrossAttention, LinearSelfAttention, TokenSet
from infd_infbrush.conditioning import ConditionEmbedding, fourier_features
from infd_infbrush.errors import ConditionError
from infd_infbrush.model_config import BrushDenoiserConfig
from infd_inftydiff import GridUNet, SparseResBlock, timestep_embedding
from infd_inftydiff.geometry import KernelGeometry, to_inner_grid
from infd_sparse import (
    CoordinateBatch,
    NeighbourMap,
    PointEvaluator,
    WholeSet,
    grid_to_sparse,
)


class InfBrushDenoiser(KernelGeometry, nn.Module):
    """``forward(values [N, C], points, t [B], tokens) -> Tξ prediction [N, C]`` at any resolution.

    ``tokens`` is the embedded condition (:meth:`condition_tokens` or :meth:`null_tokens`).
    """

    def __init__(self, config: BrushDenoiserConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or BrushDenoiserConfig()
        c, att = config.sparse_channels, config.attention
        emb_dim, width = 4 * c, config.condition.width
        self.time_mlp = nn.Sequential(nn.Linear(c, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.condition = ConditionEmbedding(config.condition, config.in_channels)
        self.condition_to_emb = nn.Linear(width, emb_dim)
        self.time_token = nn.Linear(emb_dim, width)
        sources = [width, width] + ([4 * att.coordinate_frequencies] if att.coordinate_source else [])
        self.lift = nn.Linear(config.in_channels, c)
        self.down = nn.ModuleList(SparseResBlock(c, emb_dim, config) for _ in range(config.sparse_blocks))
        self.cross = nn.ModuleList(
            LinearCrossAttention(c, sources, att.heads, att.head_dim) for _ in range(att.blocks)
        )
        self.self_attention = nn.ModuleList(
            LinearSelfAttention(c, att.heads, att.head_dim) for _ in range(att.blocks)
        )
        context = width if att.grid_cross_attention else 0  # the bottleneck attends to the tokens
        self.grid = GridUNet(config.grid, c, c, emb_dim, context_dim=context)
        self.merge = nn.ModuleList(nn.Linear(2 * c, c) for _ in range(config.sparse_blocks))
        self.up = nn.ModuleList(SparseResBlock(c, emb_dim, config) for _ in range(config.sparse_blocks))
        self.out_norm = nn.LayerNorm(c)
        self.head = nn.Linear(c, config.out_channels)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    # -- conditions ---------------------------------------------------------------------------------
    def condition_tokens(
        self, condition: torch.Tensor | TokenSet, drop: torch.Tensor | None = None
    ) -> TokenSet:
        """Embedded condition; samples where ``drop [B]`` is true get the null condition."""
        return self.condition(condition, drop)

    def null_tokens(self, batch_size: int) -> TokenSet:
        return self.condition.null_tokens(batch_size)

    # -- forward ------------------------------------------------------------------------------------
    def forward(
        self,
        values: torch.Tensor,
        points: CoordinateBatch,
        t: torch.Tensor,
        tokens: TokenSet,
        neighbours: NeighbourMap | None = None,
    ) -> torch.Tensor:
        if values.shape != (points.num_points, self.config.in_channels):
            raise ValueError(
                f"values must be [{points.num_points}, {self.config.in_channels}], got {list(values.shape)}"
            )
        nbrs = neighbours if neighbours is not None else self.neighbours(points)
        return self.evaluate(WholeSet(points, nbrs), values, t, tokens, points.grid)

    def evaluate(
        self,
        ev: PointEvaluator,
        values: torch.Tensor,
        t: torch.Tensor,
        tokens: TokenSet,
        grid: tuple[int, int],
    ) -> torch.Tensor:
        """The denoiser over the evaluator's points (``grid``: the H × W the points live on)."""
        batch_size = ev.batch_size
        if tokens.batch_size != batch_size or tokens.width != self.config.condition.width:
            raise ConditionError(
                f"condition tokens must be {self.config.condition.width} wide for {batch_size} samples, "
                f"got {tokens.width} wide for {tokens.batch_size}"
            )
        t = t.reshape(-1).expand(batch_size) if t.numel() == 1 else t.reshape(-1)
        c, scale = self.config.sparse_channels, self.kernel_scale(grid)
        emb = self.time_mlp(timestep_embedding(t, c)) + self.condition_to_emb(tokens.mean())
        time_tokens = TokenSet.from_dense(self.time_token(emb)[:, None])

        h = ev.pointwise(lambda x, p: self.lift(x), values)
        skips = []
        for block in self.down:
            h = block.evaluate(ev, h, emb, scale)
            skips.append(h)
        for cross, attention in zip(self.cross, self.self_attention, strict=True):
            sums = [cross.source_sums(0, time_tokens), cross.source_sums(1, tokens)]
            if self.config.attention.coordinate_source:
                sums.append(ev.reduce(lambda p, cross=cross: cross.source_sums(2, self._coordinates(p))))
            h = ev.pointwise(lambda x, p, c=cross, s=sums: x + c.attend(x, p.batch, s), h)
            own: KeyValueSums = ev.reduce(lambda x, p, a=attention: a.sums(x, p.batch, batch_size), h)
            h = ev.pointwise(lambda x, p, a=attention, s=own: x + a.attend(x, p.batch, s), h)
        context = tokens.padded() if self.grid.middle_cross is not None else None
        inner = self.grid(to_inner_grid(ev, h, self.config), emb, context)
        h = ev.pointwise(lambda x, p: x + grid_to_sparse(inner, p), h)
        for merge, block in zip(self.merge, self.up, strict=True):
            h = block.evaluate(ev, h, emb, scale, skip=skips.pop(), merge=merge)
        return ev.pointwise(lambda x, p: self.head(self.out_norm(x)), h)

    def _coordinates(self, points: CoordinateBatch) -> TokenSet:
        """Coordinate embeddings of the points (Fourier features of the pixel centres)."""
        features = fourier_features(points.centres(), self.config.attention.coordinate_frequencies)
        return TokenSet(features.to(self.lift.weight.dtype), points.batch, points.batch_size)
