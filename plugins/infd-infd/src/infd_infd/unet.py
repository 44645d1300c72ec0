"""The latent denoiser ε_θ(z_t, t): a U-Net (DDPM/ADM style) with a sinusoidal time embedding.

Residual blocks (GroupNorm → SiLU → conv, time added between the convs), self-attention at the
latent sides listed in ``attention_resolutions``, stride-2 conv down, nearest 2× + conv up, skips
concatenated. The output conv starts at zero, so the untrained model predicts ε̂ = 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from infd_infd.config import UNetConfig


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding ``(B, dim)`` of (integer or real) steps."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return F.pad(emb, (0, dim % 2))


class _ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int, groups: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(temb, cout)
        self.norm2, self.conv2 = nn.GroupNorm(groups, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.time(emb)[:, :, None, None]
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class _Attention(nn.Module):
    def __init__(self, channels: int, heads: int, groups: int) -> None:
        super().__init__()
        self.norm, self.heads = nn.GroupNorm(groups, channels), heads
        self.qkv, self.out = nn.Conv2d(channels, 3 * channels, 1), nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)
        out = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        return x + self.out(out.transpose(-1, -2).reshape(b, c, h, w))


class _Level(nn.Module):
    def __init__(self, blocks: list[_ResBlock], attention: list[nn.Module]) -> None:
        super().__init__()
        self.blocks, self.attention = nn.ModuleList(blocks), nn.ModuleList(attention)


class LatentUNet(nn.Module):
    """ε-prediction U-Net on latents ``(B, C, s, s)``; ``forward(z_t, t)`` with integer steps t."""

    def __init__(self, config: UNetConfig, channels: int, size: int) -> None:
        super().__init__()
        c, g, mults = config.channels, config.groups, config.channel_mult
        self.temb_dim = 4 * c
        self.time = nn.Sequential(
            nn.Linear(c, self.temb_dim), nn.SiLU(), nn.Linear(self.temb_dim, self.temb_dim)
        )
        self.base = c
        self.conv_in = nn.Conv2d(channels, c, 3, padding=1)

        def attention(width: int, side: int) -> list[nn.Module]:
            return [_Attention(width, config.num_heads, g)] if side in config.attention_resolutions else []

        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        skips, cin, side = [c], c, size
        for level, mult in enumerate(mults):
            blocks, attn = [], []
            for _ in range(config.num_res_blocks):
                blocks.append(_ResBlock(cin, c * mult, self.temb_dim, g))
                cin = c * mult
                attn += attention(cin, side) or [nn.Identity()]
                skips.append(cin)
            self.down.append(_Level(blocks, attn))
            last = level == len(mults) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(cin, cin, 3, stride=2, padding=1))
            if not last:
                skips.append(cin)
                side //= 2
        self.mid1 = _ResBlock(cin, cin, self.temb_dim, g)
        self.mid_attention = _Attention(cin, config.num_heads, g)
        self.mid2 = _ResBlock(cin, cin, self.temb_dim, g)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(mults))):
            blocks, attn = [], []
            for _ in range(config.num_res_blocks + 1):
                blocks.append(_ResBlock(cin + skips.pop(), c * mults[level], self.temb_dim, g))
                cin = c * mults[level]
                attn += attention(cin, side) or [nn.Identity()]
            self.up.append(_Level(blocks, attn))
            self.upsample.append(
                nn.Identity()
                if level == 0
                else nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cin, 3, padding=1)
                )
            )
            side *= 2 if level else 1
        self.norm_out = nn.GroupNorm(g, cin)
        self.conv_out = nn.Conv2d(cin, channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.time(timestep_embedding(t.reshape(-1).expand(x.shape[0]), self.base))
        h = self.conv_in(x)
        skips = [h]
        for level, down in zip(self.down, self.downsample, strict=True):
            for block, attn in zip(level.blocks, level.attention, strict=True):
                h = attn(block(h, emb))
                skips.append(h)
            if not isinstance(down, nn.Identity):
                h = down(h)
                skips.append(h)
        h = self.mid2(self.mid_attention(self.mid1(h, emb)), emb)
        for level, up in zip(self.up, self.upsample, strict=True):
            for block, attn in zip(level.blocks, level.attention, strict=True):
                h = attn(block(torch.cat([h, skips.pop()], dim=1), emb))
            h = up(h)
        return self.conv_out(F.silu(self.norm_out(h)))
