"""Build the image dataset named by an image-source config (a folder or the built-in photos)."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from infd_io.image_folder import ImageFolderDataset
from infd_io.photos import BuiltinPhotos


def build_image_source(config: Any) -> Dataset:
    """An :class:`ImageFolderDataset` or :class:`BuiltinPhotos` from its config."""
    if config.kind == "folder":
        return ImageFolderDataset.from_config(config)
    return BuiltinPhotos.from_config(config)


def set_epoch(dataset: Any, epoch: int) -> None:
    """Forward an epoch to a dataset that draws per-epoch randomness."""
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
