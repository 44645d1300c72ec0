"""Coordinate subsampling: a uniform random subset of each image's pixels (the ∞-Diff training input)."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from infd_core.errors import UsageError
from infd_core.seeding import derive_generator
from infd_io.coordinates import flat_index_centres
from infd_io.sources import build_image_source, set_epoch


def subsample_count(rate: float, height: int, width: int) -> int:
    """Pixels kept at ``rate``: ``floor(rate · h · w)``, at least one (rate 0.25 of 64² keeps 1024)."""
    return max(1, int(rate * height * width))


class CoordinateSubsampleDataset(Dataset):
    """For each image of ``images``, ``floor(rate · h · w)`` pixels drawn uniformly without replacement.

    Items: ``{"coords": (n, 2) pixel centres (y, x) in [-1, 1], "values": (n, c), "indices": (n,)
    row-major flat indices (sorted), "size": (2,) full (height, width), "index": int}`` and, with
    ``include_image``, the full ``"image"`` (c, h, w). The subset of item ``i`` depends only on
    ``(seed, i, epoch)``.
    """

    def __init__(self, images: Dataset, rate: float, seed: int = 0, include_image: bool = False) -> None:
        if not 0.0 < rate <= 1.0:
            raise UsageError(f"rate must be in (0, 1], got {rate}")
        self.images = images
        self.rate = float(rate)
        self.seed = seed
        self.include_image = include_image
        self.epoch = 0

    @classmethod
    def from_config(cls, config: Any) -> CoordinateSubsampleDataset:
        return cls(build_image_source(config.images), config.rate, config.seed, config.include_image)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        set_epoch(self.images, epoch)

    def __len__(self) -> int:
        return len(self.images)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Any]:
        image = self.images[index]["image"]
        channels, height, width = image.shape
        generator = derive_generator(self.seed, "item", index, self.epoch)
        count = subsample_count(self.rate, height, width)
        indices = torch.randperm(height * width, generator=generator)[:count].sort().values
        item = {
            "coords": flat_index_centres(indices, height, width),
            "values": image.reshape(channels, -1)[:, indices].T.contiguous(),
            "indices": indices,
            "size": torch.tensor([height, width]),
            "index": index,
        }
        if self.include_image:
            item["image"] = image
        return item
