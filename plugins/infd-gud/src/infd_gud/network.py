"""The γ-conditioned score network of GUD App. A and its state-space wrapper.

[γ_i, position labels_i] for every component i form D tokens, embedded by MLP-mixer blocks. At each U-Net
level a dense layer over the token axis reduces the D tokens to the level's H_l·W_l positions, and the
image features attend to them (cross-attention); the token mean also modulates every residual block.
Inputs and outputs are in pixel space ``(B, C, H, W)``; the network predicts the noise ε.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from infd_gud.errors import GudUsageError


class MixerBlock(nn.Module):
    """Token-mixing MLP (across the D tokens) then channel-mixing MLP, each pre-norm and residual."""

    def __init__(self, tokens: int, width: int, hidden: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.token_mlp = nn.Sequential(nn.Linear(tokens, hidden), nn.GELU(), nn.Linear(hidden, tokens))
        self.channel_mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.norm2(x))


class GammaEmbedding(nn.Module):
    """MLP-mixer embedding of [γ, σ², position labels] per component: ``(B, D) -> (B, D, width)``."""

    def __init__(self, labels: torch.Tensor, width: int, blocks: int, hidden: int) -> None:
        super().__init__()
        self.register_buffer("labels", labels.to(torch.float32).clone())
        tokens, label_dim = labels.shape
        self.project = nn.Linear(2 + label_dim, width)
        self.blocks = nn.ModuleList(MixerBlock(tokens, width, hidden) for _ in range(blocks))
        self.norm = nn.LayerNorm(width)

    def forward(self, gamma: torch.Tensor) -> torch.Tensor:
        labels = self.labels.to(gamma.dtype).expand(gamma.shape[0], -1, -1)
        features = torch.cat([(gamma / 10.0).unsqueeze(-1), torch.sigmoid(gamma).unsqueeze(-1), labels], -1)
        x = self.project(features)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class ResidualBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with a scale/shift from the pooled γ embedding."""

    def __init__(
        self, channels_in: int, channels_out: int, cond_width: int, groups: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.norm1, self.norm2 = nn.GroupNorm(groups, channels_in), nn.GroupNorm(groups, channels_out)
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1)
        self.film = nn.Linear(cond_width, 2 * channels_out)
        self.skip = nn.Conv2d(channels_in, channels_out, 1) if channels_in != channels_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(cond)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(self.dropout(F.silu(h)))


class SelfAttention(nn.Module):
    """Pre-norm multi-head self-attention over the positions of a feature map, residual."""

    def __init__(self, channels: int, heads: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x).flatten(2).transpose(1, 2)
        out, _ = self.attention(h, h, h, need_weights=False)
        return x + out.transpose(1, 2).reshape_as(x)


class TokenCrossAttention(nn.Module):
    """Image features (queries) attend to the γ tokens reduced to the level's H_l·W_l positions."""

    def __init__(self, channels: int, tokens_in: int, positions: int, width: int, heads: int, groups: int):
        super().__init__()
        self.reduce = nn.Linear(tokens_in, positions)  # the dense layer over the token axis (App. A)
        self.norm = nn.GroupNorm(groups, channels)
        self.attention = nn.MultiheadAttention(channels, heads, kdim=width, vdim=width, batch_first=True)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        keys = self.reduce(tokens.transpose(1, 2)).transpose(1, 2)  # (B, H_l W_l, width)
        queries = self.norm(x).flatten(2).transpose(1, 2)
        out, _ = self.attention(queries, keys, keys, need_weights=False)
        return x + out.transpose(1, 2).reshape_as(x)


class GammaUNet(nn.Module):
    """ε-prediction U-Net on ``(B, C, H, W)`` conditioned on γ ``(B, D)``, D = H·W (App. A)."""

    def __init__(
        self,
        image_channels: int,
        shape: tuple[int, int],
        labels: torch.Tensor,
        *,
        base_channels: int = 16,
        channel_mult: tuple[int, ...] = (1, 2),
        token_dim: int = 32,
        mixer_blocks: int = 2,
        mixer_hidden: int = 64,
        heads: int = 2,
        groups: int = 4,
        res_blocks: int = 1,
        attention_resolutions: tuple[int, ...] = (),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        height, width = int(shape[0]), int(shape[1])
        tokens = height * width
        if labels.dim() != 2 or labels.shape[0] != tokens:
            raise GudUsageError(f"labels must be ({tokens}, k) for shape {shape}, got {tuple(labels.shape)}")
        levels = len(channel_mult)
        if height % 2 ** (levels - 1) or width % 2 ** (levels - 1):
            raise GudUsageError(
                f"shape {shape} must be divisible by 2^{levels - 1} for {levels} U-Net levels"
            )
        widths = [base_channels * m for m in channel_mult]
        if any(w % groups or w % heads for w in widths):
            raise GudUsageError(
                f"U-Net widths {widths} must be divisible by groups={groups} and heads={heads}"
            )
        self.shape, self.image_channels = (height, width), image_channels
        self.embedding = GammaEmbedding(labels, token_dim, mixer_blocks, mixer_hidden)
        self.cond = nn.Sequential(nn.Linear(token_dim, token_dim), nn.SiLU())
        self.conv_in = nn.Conv2d(image_channels, widths[0], 3, padding=1)
        positions = [(height // 2**lvl) * (width // 2**lvl) for lvl in range(levels)]
        self.res_blocks = res_blocks
        attend = {lvl for lvl in range(levels) if height // 2**lvl in tuple(attention_resolutions)}
        # blocks are numbered level-major (level * res_blocks + j): one block per level keeps the names
        # of the single-block network, so its checkpoints load
        self.down, self.down_attn = nn.ModuleList(), nn.ModuleList()
        self.self_attn = nn.ModuleDict()
        previous = widths[0]
        for lvl, w in enumerate(widths):
            for j in range(res_blocks):
                self.down.append(ResidualBlock(previous, w, token_dim, groups, dropout))
                if lvl in attend:
                    self.self_attn[f"down{lvl}_{j}"] = SelfAttention(w, heads, groups)
                previous = w
            self.down_attn.append(TokenCrossAttention(w, tokens, positions[lvl], token_dim, heads, groups))
        self.middle = ResidualBlock(previous, previous, token_dim, groups, dropout)
        if levels - 1 in attend:
            self.self_attn["middle"] = SelfAttention(previous, heads, groups)
        self.up, self.up_attn = nn.ModuleList(), nn.ModuleList()
        for lvl in reversed(range(levels)):
            w = widths[lvl]
            for j in range(res_blocks):
                self.up.append(ResidualBlock(previous + (w if j == 0 else 0), w, token_dim, groups, dropout))
                if lvl in attend:
                    self.self_attn[f"up{lvl}_{j}"] = SelfAttention(w, heads, groups)
                previous = w
            self.up_attn.append(TokenCrossAttention(w, tokens, positions[lvl], token_dim, heads, groups))
        self.norm_out = nn.GroupNorm(groups, previous)
        self.conv_out = nn.Conv2d(previous, image_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    @classmethod
    def from_config(cls, config: Any, *, image_channels: int, shape: tuple[int, int], labels: torch.Tensor):
        """Build from :class:`~infd_gud.config.NetworkSettings`."""
        settings = config.model_dump(exclude={"input"})
        return cls(image_channels, shape, labels, **settings)

    def _attend(self, name: str, h: torch.Tensor) -> torch.Tensor:
        return self.self_attn[name](h) if name in self.self_attn else h

    def forward(self, x: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[-2:]) != self.shape or x.shape[1] != self.image_channels:
            raise GudUsageError(
                f"expected images (B, {self.image_channels}, *{self.shape}), got {tuple(x.shape)}"
            )
        gamma = gamma.to(x.dtype)
        if gamma.dim() == 1:
            gamma = gamma.expand(x.shape[0], -1)
        tokens = self.embedding(gamma)
        cond = self.cond(tokens.mean(dim=1))
        h = self.conv_in(x)
        skips, levels, blocks = [], len(self.down_attn), self.res_blocks
        for lvl in range(levels):
            if lvl > 0:
                h = F.avg_pool2d(h, 2)
            for j in range(blocks):
                h = self._attend(f"down{lvl}_{j}", self.down[lvl * blocks + j](h, cond))
            h = self.down_attn[lvl](h, tokens)
            skips.append(h)
        h = self._attend("middle", self.middle(h, cond))
        for i, lvl in enumerate(reversed(range(levels))):
            if i > 0:
                h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = torch.cat([h, skips.pop()], dim=1)
            for j in range(blocks):
                h = self._attend(f"up{lvl}_{j}", self.up[i * blocks + j](h, cond))
            h = self.up_attn[i](h, tokens)
        return self.conv_out(F.silu(self.norm_out(h)))


class StateSpaceModel(nn.Module):
    """The network seen from the diffused state: ``(B, C, D)`` components (or pixel-basis ``(B, C, H, W)``).

    The network's input is the state in image space (GUD App. B): ``image`` maps it back with Uᵀ S
    (the noisy image less the data mean), ``whitened`` with Uᵀ only (unit variance per component). The
    network predicts ε laid out as an image, mapped back to components with U.
    States, bases and schedules stay on the CPU; the network runs on its own device (the run's GPU),
    and only its input and output images cross over.
    """

    def __init__(self, network: GammaUNet, basis: Any, scale: torch.Tensor | None = None) -> None:
        super().__init__()
        self.network = network
        self.basis = basis
        self.scale = scale  # S (C or 1, D) for image-space input; None: the whitened state

    def _network(self, images: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        parameter = next(self.network.parameters(), None)
        device = parameter.device if parameter is not None else images.device
        return self.network(images.to(device), gamma.to(device)).to(images.device)

    def forward(self, state: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        if state.dim() == 4:  # already laid out as images (pixel basis, sliding window)
            if self.scale is not None:
                state = state * self.scale.to(state).reshape(-1, *state.shape[-2:])
            return self._network(state, gamma)
        if self.scale is not None:
            state = state * self.scale.to(state)
        images = self.basis.from_components(state)
        return self.basis.to_components(self._network(images, gamma))


__all__ = [
    "GammaEmbedding",
    "GammaUNet",
    "MixerBlock",
    "ResidualBlock",
    "SelfAttention",
    "StateSpaceModel",
    "TokenCrossAttention",
]
