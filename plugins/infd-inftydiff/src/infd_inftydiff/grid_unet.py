"""The grid U-Net of ∞-Diff's inner level, in the style of Nichol & Dhariwal (2021).

Residual blocks with scale-shift time conditioning (then a diffusion-autoencoder latent's scale-shift),
self-attention at the coarse resolutions, dropout, channel multipliers; input and output are
``[B, C, R, R]`` on the fixed inner grid. Its downsampling half stands alone as ∞-Diff's encoder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from infd_inftydiff.model_config import GridUNetConfig


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, time scale-shift, GroupNorm → SiLU → dropout → conv, plus skip.

    With ``latent_dim`` > 0 a diffusion autoencoder's latent z then scales and shifts the modulated
    features: ``h (1 + s_z) + b_z`` with ``(s_z, b_z) = W z``."""

    def __init__(
        self,
        channels_in: int,
        channels_out: int,
        emb_dim: int,
        groups: int,
        dropout: float,
        latent_dim: int = 0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, channels_in)
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * channels_out)
        self.latent = nn.Linear(latent_dim, 2 * channels_out) if latent_dim else None
        self.norm2 = nn.GroupNorm(groups, channels_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(channels_in, channels_out, 1) if channels_in != channels_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor, latent: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        if self.latent is not None:
            latent_scale, latent_shift = latent_condition(self.latent, latent)[:, :, None, None].chunk(
                2, dim=1
            )
            h = h * (1 + latent_scale) + latent_shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


def latent_condition(projection: nn.Module, latent: torch.Tensor | None) -> torch.Tensor:
    """``projection(latent)``: a block's share of the autoencoder latent (which it cannot do without)."""
    if latent is None:
        raise ValueError("this block is conditioned on a diffusion-autoencoder latent: pass latent")
    return projection(latent)


class Attention(nn.Module):
    """Multi-head self-attention over the grid positions."""

    def __init__(self, channels: int, heads: int, groups: int) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels cannot be split into {heads} heads")
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.out = nn.Conv1d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x).reshape(b, c, h * w)).chunk(3, dim=1)

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, self.heads, c // self.heads, h * w).transpose(2, 3)

        attended = F.scaled_dot_product_attention(heads(q), heads(k), heads(v))
        return x + self.out(attended.transpose(2, 3).reshape(b, c, h * w)).reshape(b, c, h, w)


class CrossAttention(nn.Module):
    """Multi-head softmax attention of grid positions (queries) on condition tokens (keys, values)."""

    def __init__(self, channels: int, context_dim: int, heads: int, groups: int) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels cannot be split into {heads} heads")
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels)
        self.context_norm = nn.LayerNorm(context_dim)
        self.q = nn.Conv1d(channels, channels, 1)
        self.kv = nn.Linear(context_dim, 2 * channels)
        self.out = nn.Conv1d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x [B, C, h, w]`` attends to ``context [B, T, D]`` where ``mask [B, T]`` is true."""
        b, c, h, w = x.shape
        q = self.q(self.norm(x).reshape(b, c, h * w)).reshape(b, self.heads, c // self.heads, h * w)
        k, v = self.kv(self.context_norm(context)).chunk(2, dim=-1)

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, t.shape[1], self.heads, c // self.heads).transpose(1, 2)

        attended = F.scaled_dot_product_attention(
            q.transpose(2, 3), heads(k), heads(v), attn_mask=mask[:, None, None, :]
        )
        return x + self.out(attended.transpose(2, 3).reshape(b, c, h * w)).reshape(b, c, h, w)


class GridDownHalf(nn.Module):
    """The downsampling half of the grid U-Net: stem, down blocks and bottleneck.

    ``features(x [B, C_in, R, R], emb [B, E]) -> (bottleneck, skips)``. ∞-Diff's diffusion-autoencoder
    encoder is this half on its own (§5: "the downsampling part of our architecture")."""

    def __init__(
        self,
        config: GridUNetConfig,
        channels_in: int,
        emb_dim: int,
        context_dim: int = 0,
        latent_dim: int = 0,
    ) -> None:
        super().__init__()
        self.config = config
        ch, g = config.channels, config.groups
        self.stem = nn.Conv2d(channels_in, ch, 3, padding=1)
        self.down = nn.ModuleList()
        self.skip_channels, resolution = [ch], config.resolution
        for level, mult in enumerate(config.channel_mult):
            for _ in range(config.num_res_blocks):
                out = config.channels * mult
                block = nn.ModuleList(
                    [ResBlock(ch, out, emb_dim, g, self.dropout_at(resolution), latent_dim)]
                )
                ch = out
                if resolution in config.attention_resolutions:
                    block.append(Attention(ch, config.num_heads, g))
                self.down.append(block)
                self.skip_channels.append(ch)
            if level < len(config.channel_mult) - 1:
                self.down.append(nn.ModuleList([nn.Conv2d(ch, ch, 3, stride=2, padding=1)]))
                self.skip_channels.append(ch)
                resolution //= 2
        drop = self.dropout_at(resolution)
        self.middle = nn.ModuleList(
            [
                ResBlock(ch, ch, emb_dim, g, drop, latent_dim),
                Attention(ch, config.num_heads, g),
                ResBlock(ch, ch, emb_dim, g, drop, latent_dim),
            ]
        )
        self.middle_cross = CrossAttention(ch, context_dim, config.num_heads, g) if context_dim else None
        self.bottleneck_channels, self.bottleneck_resolution = ch, resolution

    def dropout_at(self, resolution: int) -> float:
        """Dropout of the ResBlocks at grid side ``resolution`` (paper: only at 16 and 8)."""
        where = self.config.dropout_resolutions
        return self.config.dropout if where is None or resolution in where else 0.0

    @staticmethod
    def _run(
        block: nn.ModuleList, h: torch.Tensor, emb: torch.Tensor, latent: torch.Tensor | None
    ) -> torch.Tensor:
        for layer in block:
            h = layer(h, emb, latent) if isinstance(layer, ResBlock) else layer(h)
        return h

    def features(
        self,
        x: torch.Tensor,
        emb: torch.Tensor,
        context: tuple[torch.Tensor, torch.Tensor] | None = None,
        latent: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The bottleneck features and every skip of the down path (for the up path)."""
        h = self.stem(x)
        skips = [h]
        for block in self.down:
            h = self._run(block, h, emb, latent)
            skips.append(h)
        if self.middle_cross is not None and context is None:
            raise ValueError("this grid U-Net cross-attends to condition tokens: pass context")
        for i, layer in enumerate(self.middle):
            h = layer(h, emb, latent) if isinstance(layer, ResBlock) else layer(h)
            if i == 0 and self.middle_cross is not None and context is not None:
                h = self.middle_cross(h, *context)  # after the first ResBlock of the bottleneck
        return h, skips


class GridUNet(GridDownHalf):
    """U-Net on the inner grid; ``forward(x [B, C_in, R, R], emb [B, E]) -> [B, C_out, R, R]``.

    With ``context_dim`` > 0, the bottleneck also cross-attends to condition tokens
    (``forward(..., context=(tokens [B, T, D], mask [B, T]))``), as ∞-Brush's grid level does. With
    ``latent_dim`` > 0 every ResBlock is also scaled and shifted by a diffusion-autoencoder latent
    (``latent=``)."""

    def __init__(
        self,
        config: GridUNetConfig,
        channels_in: int,
        channels_out: int,
        emb_dim: int,
        context_dim: int = 0,
        latent_dim: int = 0,
    ) -> None:
        super().__init__(config, channels_in, emb_dim, context_dim, latent_dim)
        ch, g = self.bottleneck_channels, config.groups
        skips, resolution = list(self.skip_channels), self.bottleneck_resolution
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(config.channel_mult))):
            for i in range(config.num_res_blocks + 1):
                joined, out = ch + skips.pop(), config.channels * mult
                block = nn.ModuleList(
                    [ResBlock(joined, out, emb_dim, g, self.dropout_at(resolution), latent_dim)]
                )
                ch = out
                if resolution in config.attention_resolutions:
                    block.append(Attention(ch, config.num_heads, g))
                if level > 0 and i == config.num_res_blocks:
                    block.append(nn.Upsample(scale_factor=2, mode="nearest"))
                    block.append(nn.Conv2d(ch, ch, 3, padding=1))
                    resolution *= 2
                self.up.append(block)
        self.head = nn.Sequential(nn.GroupNorm(g, ch), nn.SiLU(), nn.Conv2d(ch, channels_out, 3, padding=1))

    def forward(
        self,
        x: torch.Tensor,
        emb: torch.Tensor,
        context: tuple[torch.Tensor, torch.Tensor] | None = None,
        latent: torch.Tensor | None = None,
    ) -> torch.Tensor:
        h, skips = self.features(x, emb, context, latent)
        for block in self.up:
            h = self._run(block, torch.cat([h, skips.pop()], dim=1), emb, latent)
        return self.head(h)
