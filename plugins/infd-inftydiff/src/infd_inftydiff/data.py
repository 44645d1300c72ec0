"""Training images for ∞-Diff: deterministic batches by step from the built-in photographs or a folder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from infd_core.errors import ConfigError
from infd_inftydiff.config import DataConfig
from infd_io.sources import set_epoch


class ImageBatches:
    """Batch ``s`` holds items ``s·B … s·B + B − 1`` of an endless, epoch-reshuffled stream.

    Item ``k`` is item ``k mod n`` of the dataset in epoch ``k // n``; the datasets draw their random
    crops from ``(seed, item, epoch)``, so a batch depends only on its step, and a rank of a
    data-parallel run reads only the items of its slice of the global batch.
    """

    def __init__(self, config: DataConfig, seed: int) -> None:
        self.config = config
        self.dataset = build_dataset(config, seed)
        if len(self.dataset) == 0:
            raise ConfigError(f"data.source {config.source!r} holds no usable image")

    def __call__(self, step: int, samples: Sequence[int] | None = None) -> torch.Tensor:
        """Batch ``step``, or only its global samples ``samples`` (a rank's slice: nothing else is read)."""
        size, first = len(self.dataset), step * self.config.batch_size
        samples = range(self.config.batch_size) if samples is None else samples
        images = []
        for k in (first + int(i) for i in samples):
            set_epoch(self.dataset, k // size)
            item = self.dataset[k % size]
            images.append(item["patch"] if "patch" in item else item["image"])
        return torch.stack(images)


def build_dataset(config: DataConfig, seed: int) -> Any:
    """The image dataset ``config.source`` names, yielding ``resolution``² crops in [−1, 1]: random
    crops of the built-in photographs, or of a folder's images with the short side resized."""
    if config.source == "builtin":
        from infd_io.photos import BuiltinPhotos

        return BuiltinPhotos(resolution=config.resolution, num_items=config.num_items, seed=seed)
    from infd_io.image_folder import ImageFolderDataset
    from infd_io.patches import MultiScalePatchDataset

    side = config.resolution  # short side resized to the resolution, then a square crop
    return MultiScalePatchDataset(ImageFolderDataset(config.source), side, side, side, seed=seed)
