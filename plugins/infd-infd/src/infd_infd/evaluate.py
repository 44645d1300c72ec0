"""Patch-FID (pFID-P/R, §5.1) of generated OME-Zarr samples against real images, via infd-metrics.

Generated stores are read lazily (one P×P crop per image at a time), so gigapixel samples can be
evaluated without loading them whole.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch

from infd_core.seeding import derive_generator
from infd_infd.config import DataConfig, EvaluateConfig
from infd_infd.data import build_images

logger = logging.getLogger(__name__)


def real_images(data: DataConfig, seed: int, count: int) -> Any:
    """The real side: an image folder/URL as is, or ``count`` built-in training images in [0, 1]."""
    if data.source != "builtin":
        return data.source
    images, _ = build_images(data, seed)
    order = torch.randperm(len(images), generator=derive_generator(seed, "pfid-real"))[:count]
    return [(images[int(i)]["image"] + 1) / 2 for i in order]


def patch_fid_of_samples(
    real: Any,
    samples: Sequence[str],
    extractor: Any,
    config: EvaluateConfig,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> float:
    """pFID of random ``patch_size``² crops (at ``resolution``) of ``samples`` against ``real``."""
    from infd_metrics import patch_fid

    value = patch_fid(
        real,
        list(samples),
        extractor,
        patch_size=config.patch_size,
        resolution=config.resolution,
        crops_per_image=config.crops_per_image,
        seed=seed,
        batch_size=config.batch_size,
        device=device,
    )
    logger.info("pFID-%d = %.4f over %d samples", config.patch_size, value, len(samples))
    return float(value)
