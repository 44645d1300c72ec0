"""Scale consistency (what CLIF is trained for): render at 2R, box-downsample 2×, compare with R."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from infd_render.coords import image_size
from infd_render.tiled import TiledRenderer


@dataclasses.dataclass(frozen=True)
class ScaleConsistency:
    """Errors between ``box_downsample(render(2R))`` and ``render(R)`` over all pixels and channels."""

    size: tuple[int, int]
    mean_abs: float
    max_abs: float
    rmse: float
    psnr: float  # for values spanning ``value_range``


def box_downsample_2x(image: np.ndarray) -> np.ndarray:
    """Mean of each 2×2 block of ``(c, 2h, 2w)``."""
    c, h2, w2 = image.shape
    return image.reshape(c, h2 // 2, 2, w2 // 2, 2).mean(axis=(2, 4))


def scale_consistency(
    renderer: Any,
    features: torch.Tensor,
    size: int | Sequence[int],
    *,
    tile_size: int = 512,
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> ScaleConsistency:
    """Render ``size`` and ``2 × size`` (tiled, so memory stays bounded) and report their mismatch."""
    height, width = image_size(size)
    tiler = TiledRenderer(renderer, tile_size)
    fine = tiler.render_region(features, (2 * height, 2 * width)).astype(np.float64)
    coarse = tiler.render_region(features, (height, width)).astype(np.float64)
    diff = box_downsample_2x(fine) - coarse
    rmse = float(np.sqrt(np.mean(diff**2)))
    span = value_range[1] - value_range[0]
    psnr = math.inf if rmse == 0 else 20 * math.log10(span / rmse)
    return ScaleConsistency(
        (height, width), float(np.abs(diff).mean()), float(np.abs(diff).max()), rmse, psnr
    )
