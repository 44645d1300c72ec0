"""A tiny random CNN feature extractor, saved to and loaded from a local safetensors file.

Meant for tests and smoke runs: it exercises every code path (weights from a path or URL, resizing,
batching, caching) in milliseconds. Its features are random projections, not a perceptual metric.
"""

from __future__ import annotations

import json
from typing import Any

import torch
from torch import nn

from infd_core.errors import ConfigError
from infd_metrics.configs import RandomFeaturesConfig
from infd_metrics.extractor import FeatureExtractor, check_images, pick_device
from infd_metrics.resize import resize
from infd_metrics.weights import check_keys, load_state_dict, read_weight_file, state_digest

FORMAT = "infd-metrics-random-features"
HOW_TO = "create such a file with infd_metrics.save_random_extractor(path) and pass its path"


class RandomFeatureExtractor(FeatureExtractor):
    """Two strided 3×3 convolutions, global mean and max pooling, a linear map to ``feature_dim``."""

    name = "random-features"

    def __init__(
        self, width: int = 8, feature_dim: int = 16, input_size: int = 32, weights_sha256: str = ""
    ) -> None:
        super().__init__(weights_sha256)
        self.width, self.feature_dim, self.input_size = width, feature_dim, input_size
        self.conv1 = nn.Conv2d(3, width, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, stride=2, padding=1)
        self.head = nn.Linear(2 * width, feature_dim)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        images = check_images(images).float().to(self.device)
        x = resize(images, (self.input_size, self.input_size)) * 2.0 - 1.0
        x = torch.tanh(self.conv2(torch.tanh(self.conv1(x))))
        pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        return self.head(pooled)

    def architecture(self) -> dict[str, int]:
        return {"width": self.width, "feature_dim": self.feature_dim, "input_size": self.input_size}


def save_random_extractor(
    path: str, *, seed: int = 0, width: int = 8, feature_dim: int = 16, input_size: int = 32
) -> None:
    """Initialise a :class:`RandomFeatureExtractor` from ``seed`` and save it as safetensors."""
    from safetensors.torch import save

    from infd_core.outputs import write_bytes_atomic

    generator = torch.Generator().manual_seed(seed)
    model = RandomFeatureExtractor(width, feature_dim, input_size)
    with torch.no_grad():
        for parameter in model.parameters():
            fan_in = parameter[0].numel() if parameter.dim() > 1 else parameter.numel()
            parameter.copy_(torch.randn(parameter.shape, generator=generator) / fan_in**0.5)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    metadata = {"format": FORMAT, "architecture": json.dumps(model.architecture())}
    write_bytes_atomic(str(path), save(tensors, metadata=metadata))


def _architecture(data: bytes, where: str) -> dict[str, Any]:
    from infd_metrics.statistics import safetensors_metadata

    header = safetensors_metadata(data, where)
    if header.get("format") != FORMAT:
        raise ConfigError(f"{where}: not a random-features file. {HOW_TO}")
    return json.loads(header["architecture"])


def load_random_extractor(
    config: RandomFeaturesConfig, device: torch.device | str | None = None
) -> RandomFeatureExtractor:
    """Load a file written by :func:`save_random_extractor`."""
    weights = read_weight_file(config.checkpoint, "random-features", HOW_TO)
    state = load_state_dict(weights, "random-features")
    model = RandomFeatureExtractor(
        **_architecture(weights.data, weights.url), weights_sha256=state_digest(state)
    )
    check_keys(model, state, weights.url, "random-features")
    model.requires_grad_(False)
    return model.to(pick_device(device)).eval()


def from_config(config: RandomFeaturesConfig) -> RandomFeatureExtractor:
    """The registry's factory."""
    return load_random_extractor(config)
