"""LPIPS-style perceptual distance (Zhang et al. 2018) with weights from a local safetensors file only.

The network is torchvision's VGG16 architecture built with ``weights=None`` (taps after relu1_2,
relu2_2, relu3_3, relu4_3, relu5_3) or a small VGG-like net; its weights come from ``weights``
(keys ``features.*`` as in torchvision's ``vgg16().state_dict()``, or ``net.*``), with optional LPIPS
linear heads ``lin.<k>.weight`` ``(1, C_k, 1, 1)`` (uniform weights without them). Nothing is ever
downloaded: with no file, :func:`build_perceptual` returns ``None`` and logs a warning.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from infd_core.errors import ConfigError
from infd_infd.config import PerceptualConfig

logger = logging.getLogger(__name__)

_VGG16_TAPS = (3, 8, 15, 22, 29)  # indices of relu1_2 .. relu5_3 in vgg16().features
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def small_features(channels: list[int]) -> tuple[nn.Sequential, tuple[int, ...]]:
    """A VGG-like stack: per stage conv3×3 → ReLU (→ max-pool before the next stage); taps at the ReLUs."""
    layers: list[nn.Module] = []
    taps = []
    cin = 3
    for stage, cout in enumerate(channels):
        if stage:
            layers.append(nn.MaxPool2d(2))
        layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]
        taps.append(len(layers) - 1)
        cin = cout
    return nn.Sequential(*layers), tuple(taps)


def vgg16_features() -> tuple[nn.Sequential, tuple[int, ...]]:
    """torchvision's VGG16 convolutional part, uninitialised: every weight comes from a file (loaded
    strictly), so the 138M-parameter network is built without initialising it."""
    from torchvision.models import vgg16

    with torch.device("meta"):
        features = vgg16(weights=None).features
    return features.to_empty(device="cpu"), _VGG16_TAPS


class PerceptualLoss(nn.Module):
    """Σ_k mean_xy w_k · (f̂_k(a) − f̂_k(b))² with f̂ the channel-normalised features of each tap."""

    def __init__(self, features: nn.Sequential, taps: tuple[int, ...]) -> None:
        super().__init__()
        self.features = features[: taps[-1] + 1]
        self.taps = taps
        widths = [self._width(i) for i in taps]
        self.lin = nn.ParameterList(nn.Parameter(torch.full((1, w, 1, 1), 1.0 / w)) for w in widths)
        self.register_buffer("mean", torch.tensor(_MEAN).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).reshape(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def _width(self, tap: int) -> int:
        for layer in reversed(self.features[: tap + 1]):
            if isinstance(layer, nn.Conv2d):
                return layer.out_channels
        raise ConfigError("a perceptual tap has no convolution before it")

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        h = ((x + 1) / 2 - self.mean) / self.std  # images in [−1, 1] → ImageNet statistics
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index in self.taps:
                out.append(h / (h.pow(2).sum(1, keepdim=True).sqrt() + 1e-10))
        return out

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Per-sample distance ``(B,)`` between images in [−1, 1]."""
        total = a.new_zeros(a.shape[0])
        for weight, fa, fb in zip(self.lin, self._taps(a), self._taps(b), strict=True):
            total = total + (weight * (fa - fb).pow(2)).sum(1).mean(dim=(1, 2))
        return total

    def train(self, mode: bool = True) -> PerceptualLoss:
        return super().train(False)  # always frozen, always in eval mode


def load_weights(module: PerceptualLoss, path: str) -> None:
    """Load ``features.*``/``net.*`` and optional ``lin.<k>.weight`` tensors from a safetensors file."""
    import safetensors.torch

    if not Path(path).is_file():
        raise ConfigError(f"loss.perceptual.weights: {path} is not a file (weights are never downloaded)")
    try:
        tensors = safetensors.torch.load_file(path)
    except Exception as exc:  # safetensors raises its own error types
        raise ConfigError(f"loss.perceptual.weights: {path} is not a safetensors file ({exc})") from None
    features, lin = {}, {}
    for key, value in tensors.items():
        for prefix in ("features.", "net."):
            if key.startswith(prefix):
                index = int(key[len(prefix) :].split(".")[0])
                if index < len(module.features):
                    features[key[len(prefix) :]] = value
        if key.startswith("lin."):
            lin[key[4:]] = value
    try:
        module.features.load_state_dict(features)
        for k, value in lin.items():
            module.lin[int(k.split(".")[0])].data.copy_(value.reshape(module.lin[int(k.split(".")[0])].shape))
    except (RuntimeError, ValueError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(
            f"loss.perceptual.weights: {path} does not fit the {module_arch(module)} ({first})"
        ) from None


def module_arch(module: PerceptualLoss) -> str:
    return f"perceptual network with taps {list(module.taps)}"


PERCEPTUAL_OFF = (
    "off: loss.perceptual.weights is unset, so the autoencoder trains on L1 + GAN only, without the "
    "paper's perceptual term (expect blurrier reconstructions); nothing is downloaded: give a local "
    "safetensors file (README: perceptual weights from local files)"
)


def perceptual_status(config: PerceptualConfig, weight: float) -> str:
    """Whether the perceptual term is on, in words (for the training log and the checkpoint)."""
    if config.weights is None:
        return PERCEPTUAL_OFF
    if weight == 0:
        return "off: loss.perceptual_weight is 0"
    return f"on: {config.arch} weights from {config.weights}, weight {weight}"


def build_perceptual(config: PerceptualConfig) -> PerceptualLoss | None:
    """The perceptual loss with weights from ``config.weights``, or ``None`` (with a warning) without."""
    if config.weights is None:
        logger.warning("INFD: the perceptual loss is %s", PERCEPTUAL_OFF)
        return None
    features, taps = vgg16_features() if config.arch == "vgg16" else small_features(config.channels)
    module = PerceptualLoss(features, taps)
    load_weights(module, config.weights)
    return module
