"""The feature-extractor contract: ``(B, 3, H, W)`` images in [0, 1] → ``(B, D)`` features."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from infd_core.errors import UsageError

logger = logging.getLogger(__name__)


class FeatureExtractor(torch.nn.Module):
    """Base of the extractors: resizes internally, so any image size is accepted.

    Subclasses set ``name``, ``feature_dim`` and ``input_size`` and implement :meth:`features`;
    :meth:`fingerprint` identifies the extractor in statistics cache keys (name + weight hash).
    """

    name: str = "extractor"
    feature_dim: int = 0
    input_size: int = 0

    def __init__(self, weights_sha256: str = "") -> None:
        super().__init__()
        self.weights_sha256 = weights_sha256

    def features(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)

    def fingerprint(self) -> dict[str, Any]:
        return {"name": self.name, "weights_sha256": self.weights_sha256, "dim": self.feature_dim}

    @property
    def device(self) -> torch.device:
        for tensor in [*self.parameters(), *self.buffers()]:
            return tensor.device
        return torch.device("cpu")


def check_images(images: torch.Tensor) -> torch.Tensor:
    """A float ``(B, 3, H, W)`` batch; anything else is a :class:`UsageError`."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise UsageError(f"images must be a (B, 3, H, W) tensor in [0, 1], got {shape}")
    if not images.is_floating_point():
        raise UsageError(f"images must be floating point in [0, 1], got {images.dtype}")
    return images


def resolve_extractor(extractor: Any, device: torch.device | str | None = None) -> FeatureExtractor:
    """An extractor from an instance, a config (Inception / CLIP / random), or an Inception file path."""
    from infd_metrics.configs import ClipConfig, InceptionConfig, RandomFeaturesConfig

    if isinstance(extractor, FeatureExtractor):
        return extractor if device is None else extractor.to(device)
    if isinstance(extractor, (str, Path)):
        extractor = InceptionConfig(checkpoint=str(extractor))
    if isinstance(extractor, InceptionConfig):
        from infd_metrics.inception import load_inception

        return load_inception(extractor, device)
    if isinstance(extractor, ClipConfig):
        from infd_metrics.clip import load_clip

        return load_clip(extractor, device)
    if isinstance(extractor, RandomFeaturesConfig):
        from infd_metrics.random_features import load_random_extractor

        return load_random_extractor(extractor, device)
    raise UsageError(
        f"extractor must be a FeatureExtractor, an InceptionConfig/ClipConfig/RandomFeaturesConfig or "
        f"the path of clean-fid's Inception file, got {type(extractor).__name__}"
    )


def pick_device(device: torch.device | str | None) -> torch.device:
    """``None`` or ``"auto"`` → CUDA when present, else CPU; other names as infd spells them."""
    if isinstance(device, torch.device):
        return device
    from infd_core.devices import resolve_device

    return resolve_device(device or "auto")
