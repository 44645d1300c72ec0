"""Build the image dataset named by an image-source config: a folder, the built-in photos, CIFAR-10
binary batches or PCam HDF5 files."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from infd_io.image_folder import ImageFolderDataset
from infd_io.photos import BuiltinPhotos


def build_image_source(config: Any) -> Dataset:
    """An :class:`ImageFolderDataset`, :class:`BuiltinPhotos`, :class:`Cifar10Binary` or
    :class:`PCamHDF5` from its config."""
    if config.kind == "folder":
        return ImageFolderDataset.from_config(config)
    if config.kind == "cifar10-binary":
        from infd_io.cifar10 import Cifar10Binary

        return Cifar10Binary.from_config(config)
    if config.kind == "pcam-hdf5":
        from infd_io.pcam import PCamHDF5

        return PCamHDF5.from_config(config)
    return BuiltinPhotos.from_config(config)


def set_epoch(dataset: Any, epoch: int) -> None:
    """Forward an epoch to a dataset that draws per-epoch randomness."""
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
