"""Small renderers and feature maps shared by the tests."""

from __future__ import annotations

import torch

from infd_render import CLIFConfig, CLIFRenderer, LIIFConfig, LIIFRenderer


def tiny_clif(channels: int = 8, hidden: int = 16, **options: object) -> CLIFRenderer:
    torch.manual_seed(0)
    return CLIFRenderer(
        CLIFConfig(feature_channels=channels, hidden_channels=hidden, gemm_chunk=256, **options)
    ).eval()


def tiny_liif(channels: int = 8) -> LIIFRenderer:
    torch.manual_seed(0)
    return LIIFRenderer(
        LIIFConfig(feature_channels=channels, hidden_channels=[16, 16], chunk_size=256)
    ).eval()


def features(channels: int = 8, height: int = 13, width: int = 17, seed: int = 1) -> torch.Tensor:
    return torch.randn(1, channels, height, width, generator=torch.Generator().manual_seed(seed))
