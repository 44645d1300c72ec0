"""A TorchScript stand-in with the interface of clean-fid's ``inception-2015-12-05.pt``.

The real file holds the TensorFlow FID Inception; its ``layers`` map ``(B, 3, 299, 299)`` images in
[−1, 1] to ``(B, 2048, 1, 1)`` pool features, and its ``forward(x, return_features)`` resizes internally.
This tiny random network keeps those names and shapes so that loaders can be tested offline.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn


class _Layers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 13, stride=13)
        self.head = nn.Conv2d(16, 2048, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.tanh(self.conv(x))
        pooled = torch.cat([y.mean(dim=(2, 3), keepdim=True), y.amax(dim=(2, 3), keepdim=True)], dim=1)
        return self.head(pooled)


class FakeInception(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = _Layers()

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        x = nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return self.layers((x - 128.0) / 128.0)


def save_fake_inception(path: Path, seed: int = 0) -> Path:
    """Script and save the stand-in (weights drawn from ``seed``)."""
    generator = torch.Generator().manual_seed(seed)
    model = FakeInception()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated, still loadable
        torch.jit.script(model).save(str(path))
    return path
