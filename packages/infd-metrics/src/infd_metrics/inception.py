"""clean-fid's Inception feature extractor, from the user's copy of its TorchScript file.

clean-fid (``cleanfid.features.feature_extractor("torchscript_inception")``) downloads StyleGAN2-ADA's
``inception-2015-12-05.pt`` (the TensorFlow FID Inception exported as TorchScript) and, in its default
"clean" mode, resizes images to 299² with PIL's bicubic filter on float pixels in [0, 255], then runs
the file's ``layers`` on ``(x − 128) / 128`` and takes the 2048 pool features. This module does the same
with torch ops from a file the user supplies; nothing is downloaded.
"""

from __future__ import annotations

import io
import logging
import warnings

import torch

from infd_core.errors import ConfigError
from infd_metrics.configs import InceptionConfig
from infd_metrics.extractor import FeatureExtractor, check_images, pick_device
from infd_metrics.resize import resize
from infd_metrics.weights import read_weight_file

logger = logging.getLogger(__name__)

INCEPTION_URL = (
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
)
HOW_TO = (
    "FID needs clean-fid's Inception weights, which infd never downloads: fetch "
    f"{INCEPTION_URL} once (clean-fid keeps a copy at /tmp/inception-2015-12-05.pt after its first "
    "run) and pass its path or URL as the extractor checkpoint (--inception PATH on the command line)"
)


class InceptionExtractor(FeatureExtractor):
    """2048-d pool features of clean-fid's TorchScript Inception (clean mode: resize outside)."""

    name = "fid-inception"
    feature_dim = 2048
    input_size = 299

    def __init__(self, network: torch.nn.Module, weights_sha256: str = "") -> None:
        super().__init__(weights_sha256)
        if not hasattr(network, "layers"):
            raise ConfigError(
                "the TorchScript file has no `layers` module: it is not clean-fid's "
                f"inception-2015-12-05.pt. {HOW_TO}"
            )
        self.network = network

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` in [0, 1] → ``(B, 2048)``."""
        images = check_images(images).float().to(self.device)
        pixels = resize(images * 255.0, (self.input_size, self.input_size)).clamp(0.0, 255.0)
        features = self.network.layers.forward((pixels - 128.0) / 128.0)
        return features.reshape(images.shape[0], -1)


def load_inception(config: InceptionConfig, device: torch.device | str | None = None) -> InceptionExtractor:
    """Load the user's ``inception-2015-12-05.pt`` (TorchScript: code and tensors, no pickled Python)."""
    weights = read_weight_file(config.checkpoint, "Inception", HOW_TO)
    target = pick_device(device)
    try:
        with warnings.catch_warnings():  # the file format is TorchScript, deprecated by torch but loadable
            warnings.simplefilter("ignore", FutureWarning)
            network = torch.jit.load(io.BytesIO(weights.data), map_location=target)
    except Exception as exc:
        raise ConfigError(
            f"{weights.url}: not a TorchScript file ({type(exc).__name__}: {str(exc)[:200]}). {HOW_TO}"
        ) from None
    extractor = InceptionExtractor(network.eval(), weights.sha256)
    for parameter in extractor.parameters():
        parameter.requires_grad_(False)
    return extractor.eval()


def from_config(config: InceptionConfig) -> InceptionExtractor:
    """The registry's factory."""
    return load_inception(config)
