"""Small image transforms shared by the datasets: resizing and value ranges."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def resize_image(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Antialiased bicubic resize of a (c, h, w) image in [0, 1] (clamped back to [0, 1])."""
    if tuple(image.shape[-2:]) == (height, width):
        return image
    resized = F.interpolate(
        image[None], size=(height, width), mode="bicubic", antialias=True, align_corners=False
    )
    return resized[0].clamp_(0.0, 1.0)


#: ITU-R BT.601 luma weights, as PIL's ``convert("L")`` uses for grey images.
LUMA = (0.299, 0.587, 0.114)


def to_grey(image: torch.Tensor) -> torch.Tensor:
    """The BT.601 luma ``(1, h, w)`` of an RGB image ``(3, h, w)``."""
    return (torch.tensor(LUMA, dtype=image.dtype).view(3, 1, 1) * image).sum(0, keepdim=True)


def to_value_range(image: torch.Tensor | np.ndarray, value_range: tuple[float, float]) -> torch.Tensor:
    """Map values in [0, 1] to ``value_range`` (float32 tensor)."""
    tensor = torch.as_tensor(image, dtype=torch.float32)
    low, high = value_range
    return tensor * (high - low) + low


def from_value_range(image: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    """Inverse of :func:`to_value_range`."""
    low, high = value_range
    return (image - low) / (high - low)


def labelled_item(
    pixels: np.ndarray, label: int, index: int, channels: int, value_range: tuple[float, float]
) -> dict[str, Any]:
    """A dataset item from uint8 ``(3, H, W)`` pixels: the image in ``value_range`` (grey when
    ``channels`` is 1), its label and its index."""
    image = torch.from_numpy(pixels.astype(np.float32) / 255.0)
    if channels == 1:
        image = to_grey(image)
    return {"image": to_value_range(image, value_range), "label": int(label), "index": index}
