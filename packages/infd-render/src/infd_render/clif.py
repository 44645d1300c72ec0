"""CLIF (INFD §4.2, Fig. 3): a convolutional local image function.

Each query pixel gathers its nearest feature vector and appends the relative coordinate and pixel size
(``C + 4`` channels); a small CNN renders the values: conv → residual blocks (norm → SiLU → conv, twice)
→ norm → SiLU → conv. The norm is per pixel (see :class:`~infd_render.configs.CLIFConfig`), and convs
pad zeros only at the true image border, so a tile rendered with a halo of at least
:attr:`CLIFRenderer.receptive_field` pixels equals the same pixels of a whole-image render bit for bit.
"""

from __future__ import annotations

import torch
from torch import nn

from infd_render.configs import CLIFConfig
from infd_render.layers import (
    WHOLE_IMAGE,
    BorderConv2d,
    Borders,
    ChannelLayerNorm,
    exact_silu,
    receptive_field_radius,
)
from infd_render.query import gather_query


class _NormAct(nn.Module):
    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.norm = ChannelLayerNorm(channels) if norm == "layer" else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return exact_silu(self.norm(x))


class _ResidualBlock(nn.Module):
    def __init__(self, config: CLIFConfig) -> None:
        super().__init__()
        c, k = config.hidden_channels, config.kernel_size
        options = {"impl": config.conv_impl, "chunk": config.gemm_chunk}
        self.act1, self.conv1 = _NormAct(c, config.norm), BorderConv2d(c, c, k, **options)
        self.act2, self.conv2 = _NormAct(c, config.norm), BorderConv2d(c, c, k, **options)

    def forward(self, x: torch.Tensor, borders: Borders) -> torch.Tensor:
        h = self.conv2(self.act2(self.conv1(self.act1(x), borders)), borders)
        return borders.crop(x, self.conv1.radius + self.conv2.radius) + h


class CLIFNet(nn.Module):
    """The CNN of CLIF, on ``(B, C + 4, H, W)`` query grids; shrinks non-border sides by its radius."""

    def __init__(self, config: CLIFConfig) -> None:
        super().__init__()
        k, options = config.kernel_size, {"impl": config.conv_impl, "chunk": config.gemm_chunk}
        self.conv_in = BorderConv2d(config.feature_channels + 4, config.hidden_channels, k, **options)
        self.blocks = nn.ModuleList(_ResidualBlock(config) for _ in range(config.residual_blocks))
        self.act_out = _NormAct(config.hidden_channels, config.norm)
        self.conv_out = BorderConv2d(config.hidden_channels, config.out_channels, k, **options)

    def forward(self, x: torch.Tensor, borders: Borders = WHOLE_IMAGE) -> torch.Tensor:
        x = self.conv_in(x, borders)
        for block in self.blocks:
            x = block(x, borders)
        return self.conv_out(self.act_out(x), borders)


class CLIFRenderer(nn.Module):
    """``render(features, coords, cells) -> (B, out, H, W)`` for coordinate grids ``(B, H, W, 2)``."""

    def __init__(self, config: CLIFConfig | None = None) -> None:
        super().__init__()
        self.config = config or CLIFConfig()
        self.net = CLIFNet(self.config)

    @classmethod
    def from_config(cls, config: CLIFConfig) -> CLIFRenderer:
        return cls(config)

    @property
    def receptive_field(self) -> int:
        """Radius in output pixels, computed from the network's convs."""
        return receptive_field_radius(self.net)

    def prepare_features(self, features: torch.Tensor) -> torch.Tensor:
        """Per-image work done once before rendering tiles (none for CLIF)."""
        return features

    def query_grid(self, features: torch.Tensor, coords: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """``(B, C + 4, H, W)``: nearest feature, relative coordinate, relative cell per query pixel."""
        if coords.dim() != 4:
            raise ValueError(f"CLIF renders coordinate grids (B, H, W, 2), got shape {tuple(coords.shape)}")
        return gather_query(features, coords, cells).permute(0, 3, 1, 2)

    def render_window(
        self, features: torch.Tensor, coords: torch.Tensor, cells: torch.Tensor, borders: Borders
    ) -> torch.Tensor:
        """Render a window whose non-border sides are trimmed by :attr:`receptive_field` pixels."""
        query = self.query_grid(features, coords, cells)
        return self.net(query.to(self.net.conv_in.weight.dtype), borders)

    def render(self, features: torch.Tensor, coords: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """Render the grid as a whole image (zero padding on all four sides)."""
        return self.render_window(features, coords, cells, WHOLE_IMAGE)

    forward = render
