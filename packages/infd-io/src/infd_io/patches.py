"""Multi-scale patch crops (INFD §4.1): downsample by a random factor, then crop a P×P patch.

The image is resized so that its short side is ``r``, drawn uniformly from the integers
``min_size .. min(native short side, max_size)`` (never below P), keeping the aspect ratio; a P×P
patch is cropped at a uniform position ``(i, j)``. Its pixel-centre coordinates and cells are
relative to the whole image: rows ``i .. i+P-1`` of ``h_r`` rows cover ``[i / h_r, (i + P) / h_r]``,
mapped to [-1, 1], and every cell is ``(2 / h_r, 2 / w_r)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from infd_core.errors import UsageError
from infd_core.seeding import derive_generator
from infd_io.coordinates import cell_sizes, pixel_centres
from infd_io.sources import build_image_source, set_epoch
from infd_io.transforms import from_value_range, resize_image, to_value_range


def _randint(low: int, high: int, generator: torch.Generator) -> int:
    """Uniform integer in [low, high] (inclusive)."""
    return int(torch.randint(low, high + 1, (1,), generator=generator))


class MultiScalePatchDataset(Dataset):
    """P×P patches of randomly downsampled images, with coordinates and cell sizes.

    Items: ``{"patch": (c, P, P), "coords": (P, P, 2) (y, x) in [-1, 1], "cells": (P, P, 2),
    "scale": resized short side / native short side, "crop": (top, left, resized_h, resized_w),
    "size": native (h, w), "index"}``. ``images`` yields ``{"image": (c, h, w)}`` in ``value_range``.
    """

    def __init__(
        self,
        images: Dataset,
        patch_size: int,
        min_size: int | None = None,
        max_size: int | None = None,
        seed: int = 0,
        value_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        low = patch_size if min_size is None else min_size
        if patch_size < 1 or low < patch_size or (max_size is not None and max_size < low):
            raise UsageError("need patch_size >= 1, min_size >= patch_size and max_size >= min_size")
        self.images = images
        self.patch_size = patch_size
        self.min_size = low
        self.max_size = max_size
        self.seed = seed
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.epoch = 0

    @classmethod
    def from_config(cls, config: Any) -> MultiScalePatchDataset:
        images = build_image_source(config.images)
        return cls(
            images,
            config.patch_size,
            config.min_size,
            config.max_size,
            config.seed,
            tuple(config.images.value_range),
        )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        set_epoch(self.images, epoch)

    def __len__(self) -> int:
        return len(self.images)  # type: ignore[arg-type]

    def resized_short_side(self, native_short: int, generator: torch.Generator) -> int:
        """The short side the image is resized to (``r`` of INFD)."""
        high = native_short if self.max_size is None else min(native_short, self.max_size)
        return _randint(self.min_size, max(self.min_size, high), generator)

    def __getitem__(self, index: int) -> dict[str, Any]:
        image = self.images[index]["image"]
        _, height, width = image.shape
        generator = derive_generator(self.seed, "item", index, self.epoch)
        short = min(height, width)
        target = self.resized_short_side(short, generator)
        scale = target / short
        size = self.patch_size
        new_h = max(size, round(height * scale))
        new_w = max(size, round(width * scale))
        resized = resize_image(from_value_range(image, self.value_range), new_h, new_w)
        top = _randint(0, new_h - size, generator)
        left = _randint(0, new_w - size, generator)
        patch = resized[:, top : top + size, left : left + size]
        return {
            "patch": to_value_range(patch, self.value_range),
            "coords": pixel_centres(new_h, new_w, top, left, size, size),
            "cells": cell_sizes(new_h, new_w, size, size),
            "scale": torch.tensor(scale, dtype=torch.float32),
            "crop": torch.tensor([top, left, new_h, new_w]),
            "size": torch.tensor([height, width]),
            "index": index,
        }
