"""Class-labelled training images for ∞-Brush: deterministic batches by step.

Item ``k`` of the endless stream belongs to class ``k mod n`` and is item ``k // n`` of that class's
dataset (epoch-reshuffled), so a batch depends only on its step and every batch is class-balanced.
Built-in photographs: one class per photo (random crops); a folder: one class per sub-folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from infd_core.errors import ConfigError
from infd_infbrush.config import BrushDataConfig
from infd_io.sources import set_epoch


def build_class_dataset(config: BrushDataConfig, name: str, seed: int) -> Any:
    """The dataset of one class, yielding ``resolution``² crops in [−1, 1]."""
    if config.source == "builtin":
        from infd_io.photos import PHOTO_NAMES, BuiltinPhotos

        if name not in PHOTO_NAMES:
            raise ConfigError(
                f"data.classes: unknown built-in photo {name!r}; available: {', '.join(PHOTO_NAMES)}"
            )
        return BuiltinPhotos(
            resolution=config.resolution, num_items=config.num_items, seed=seed, photos=[name]
        )
    from infd_io.image_folder import ImageFolderDataset
    from infd_io.patches import MultiScalePatchDataset

    side = config.resolution
    folder = f"{config.source.rstrip('/')}/{name}"
    return MultiScalePatchDataset(ImageFolderDataset(folder), side, side, side, seed=seed)


class ClassBatches:
    """``batches(step) -> (images [B, C, R, R], labels [B])``."""

    def __init__(self, config: BrushDataConfig, seed: int) -> None:
        self.config = config
        self.datasets = [build_class_dataset(config, name, seed) for name in config.classes]
        for name, dataset in zip(config.classes, self.datasets, strict=True):
            if len(dataset) == 0:
                raise ConfigError(f"data.classes: class {name!r} holds no usable image")

    def item(self, k: int) -> tuple[torch.Tensor, int]:
        label = k % len(self.datasets)
        dataset, j = self.datasets[label], k // len(self.datasets)
        set_epoch(dataset, j // len(dataset))
        item = dataset[j % len(dataset)]
        return (item["patch"] if "patch" in item else item["image"]), label

    def __call__(self, step: int, samples: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``step``, or only its global samples ``samples`` (a rank's slice: nothing else is read)."""
        size = self.config.batch_size
        samples = range(size) if samples is None else samples
        items = [self.item(step * size + int(i)) for i in samples]
        return torch.stack([i for i, _ in items]), torch.tensor([label for _, label in items])


def class_vectors(labels: torch.Tensor, config: BrushDataConfig) -> torch.Tensor:
    """Condition vectors ``[B, dim]`` of class labels (one-hot, or 0/1 for a binary attribute)."""
    if config.encoding == "binary":
        return labels.to(torch.float32)[:, None]
    return F.one_hot(labels, len(config.classes)).to(torch.float32)


def reference_images(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Images resized to the reference resolution of patch conditioning (antialiased)."""
    if images.shape[-2:] == (resolution, resolution):
        return images
    return F.interpolate(
        images, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False
    )
