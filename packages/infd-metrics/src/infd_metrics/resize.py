"""Differentiable image resizing with torch ops (antialiased bicubic, PIL's kernel) and centre crops."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize ``(B, C, H, W)`` to ``size`` with antialiased bicubic interpolation.

    torch's antialiased bicubic uses PIL's kernel (a = −0.5, support widened when downsampling), so this
    matches ``PIL.Image.resize(..., BICUBIC)`` on float images up to rounding, the resize clean-fid uses.
    """
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images, size=size, mode="bicubic", align_corners=False, antialias=True)


def resize_shorter_side(images: torch.Tensor, side: int) -> torch.Tensor:
    """Resize so that the shorter side is ``side`` (aspect ratio kept, longer side rounded)."""
    height, width = images.shape[-2:]
    scale = side / min(height, width)
    size = (max(side, round(height * scale)), max(side, round(width * scale)))
    return resize(images, size)


def center_crop(images: torch.Tensor, side: int) -> torch.Tensor:
    """The central ``side × side`` window (torchvision's rounding)."""
    height, width = images.shape[-2:]
    top, left = round((height - side) / 2.0), round((width - side) / 2.0)
    return images[..., top : top + side, left : left + side]
