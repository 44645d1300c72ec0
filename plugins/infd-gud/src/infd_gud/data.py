"""GUD's training and held-out images: the built-in photographs, an image folder (or fsspec URL) with
labels from sub-folders, CIFAR-10 binary batches or PCam HDF5 files (through infd-io's readers).

Images of another size are resized (short side) to ``data.resolution`` and cropped square at random
(infd-io's multi-scale patches with one scale), so 96² PCam patches become the paper's 32² images.
File sources are split once by ``data.seed``: the last ``data.holdout`` items of a random permutation
are held out (NLL, completion) and never trained on, nor used to fit the basis.
"""

from __future__ import annotations

import glob
import logging
import os
from typing import Any

import torch

from infd_core.seeding import derive_generator
from infd_gud.config import DataSettings
from infd_gud.errors import GudUsageError

logger = logging.getLogger(__name__)


def detect_format(source: str) -> str:
    """``builtin``, ``cifar10-binary`` (``*.bin`` or a folder of ``data_batch_*.bin``), ``pcam-hdf5``
    (``*.h5``, ``*.hdf5``) or ``folder`` (anything else: images under a folder or URL)."""
    if source == "builtin":
        return "builtin"
    lowered = source.lower()
    if lowered.endswith((".h5", ".hdf5")):
        return "pcam-hdf5"
    if lowered.endswith(".bin") or (
        os.path.isdir(source) and glob.glob(os.path.join(glob.escape(source), "data_batch_*.bin"))
    ):
        return "cifar10-binary"
    return "folder"


def source_dataset(data: DataSettings) -> Any:
    """The infd-io dataset of ``data.source`` (values in [-1, 1], ``labels`` and ``classes``)."""
    kind = data.format if data.format != "auto" else detect_format(data.source)
    if kind == "builtin":
        raise GudUsageError("the built-in photographs are drawn as crops, not read as a dataset")
    from infd_io.sources import build_image_source

    fields: dict[str, Any] = {"kind": kind, "channels": data.channels}
    if kind == "pcam-hdf5":
        fields.update(x=data.source, y=data.labels)
    elif kind == "cifar10-binary":
        fields["path"] = data.source
    else:
        fields["root"] = data.source
    from infd_io.configs import Cifar10BinaryConfig, ImageFolderConfig, PCamConfig

    model = {"pcam-hdf5": PCamConfig, "cifar10-binary": Cifar10BinaryConfig, "folder": ImageFolderConfig}[
        kind
    ]
    return build_image_source(model(**fields))


def class_indices(dataset: Any, classes: list[int | str] | None) -> list[int]:
    """Indices of the items whose label is in ``classes`` (names or label numbers; None: all)."""
    labels = [int(v) for v in dataset.labels]
    if classes is None:
        return list(range(len(labels)))
    names = list(getattr(dataset, "classes", ()))
    wanted = set()
    for entry in classes:
        if isinstance(entry, int):
            wanted.add(entry)
        elif entry in names:
            wanted.add(names.index(entry))
        else:
            raise GudUsageError(
                f"data.classes: unknown class {entry!r}; available: {', '.join(names) or 'none'}"
            )
    return [i for i, label in enumerate(labels) if label in wanted]


class GudImages:
    """``images(count, seed_offset)`` of ``(count, C, R, R)`` in [-1, 1]: offset 0 draws training images,
    1 and 2 held-out ones (1 from the start of the held-out set, 2 from its end)."""

    def __init__(self, data: DataSettings) -> None:
        self.data = data
        self.builtin = (data.format if data.format != "auto" else detect_format(data.source)) == "builtin"
        if self.builtin:
            return
        from infd_io.patches import MultiScalePatchDataset

        base = source_dataset(data)
        pool = class_indices(base, data.classes)
        if len(pool) <= data.holdout:
            raise GudUsageError(
                f"data.source {data.source!r} holds {len(pool)} usable images: need more than "
                f"data.holdout = {data.holdout} (the held-out images)"
            )
        order = torch.randperm(len(pool), generator=derive_generator(data.seed, "gud-split")).tolist()
        shuffled = [pool[i] for i in order]
        self.held_out, self.train = shuffled[len(pool) - data.holdout :], shuffled[: len(pool) - data.holdout]
        side = data.resolution
        self.dataset = MultiScalePatchDataset(base, side, side, side, seed=data.seed)
        logger.info(
            "%s: %d training and %d held-out images (of %d)", data.source, len(self.train), data.holdout,
            len(base),
        )  # fmt: skip

    def images(self, count: int, seed_offset: int = 0) -> torch.Tensor:
        data = self.data
        if self.builtin:
            from infd_io import BuiltinPhotos

            photos = BuiltinPhotos(data.resolution, count, data.seed + seed_offset, data.min_crop_fraction,
                                   data.channels)  # fmt: skip
            return torch.stack([photos[i]["image"] for i in range(count)]).to(torch.float32)
        if seed_offset == 0:
            indices = self.train[: min(count, len(self.train))]
            if len(indices) < count:
                logger.info(
                    "data.source has %d training images; using them all (asked for %d)", len(indices), count
                )
        else:
            pool = self.held_out if seed_offset == 1 else self.held_out[::-1]
            if count > len(pool):
                raise GudUsageError(f"{count} held-out images asked for; data.holdout is {len(pool)}")
            indices = pool[:count]
        return torch.stack([self.dataset[i]["patch"] for i in indices]).to(torch.float32)


__all__ = ["GudImages", "class_indices", "detect_format", "source_dataset"]
