"""Training data (§4.1): mixed-resolution images → encoder inputs + multi-scale P×P patches.

Images come from an image folder (each at its own resolution) or from the built-in photographs as
subsets at several resolutions. Patches are infd-io's :class:`~infd_io.patches.MultiScalePatchDataset`
crops (random short side r, P×P crop, coordinates and cells relative to the whole image). Batch ``s``
holds stream items ``s·B … s·B + B − 1``; item ``k`` is drawn in epoch ``k // n`` from an order (or, with
``balanced``, a high-/low-resolution choice) derived from ``(seed, k)``, so a batch depends only on its
step and resumed runs see exactly the data an uninterrupted run would; a rank of a data-parallel run
reads only the items of its micro-batches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import ConcatDataset, Dataset

from infd_core.errors import ConfigError
from infd_core.seeding import derive_generator
from infd_infd.autoencoder import resample_for_encoder
from infd_infd.config import DataConfig
from infd_io.sources import set_epoch


class _Remember(Dataset):
    """Keeps the last item, so the encoder input and the patch come from one decode of the image."""

    def __init__(self, images: Dataset) -> None:
        self.images = images
        self._last: tuple[int, int, Any] | None = None
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        set_epoch(self.images, epoch)

    def __len__(self) -> int:
        return len(self.images)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self._last is None or self._last[:2] != (index, self.epoch):
            self._last = (index, self.epoch, self.images[index])
        return self._last[2]


class _Epochs(ConcatDataset):
    """A concatenation that forwards ``set_epoch`` to its parts."""

    def set_epoch(self, epoch: int) -> None:
        for part in self.datasets:
            set_epoch(part, epoch)


def build_images(config: DataConfig, seed: int) -> tuple[Dataset, list[int]]:
    """The image dataset and each image's short side (native resolution)."""
    if config.source == "builtin":
        from infd_io.photos import BuiltinPhotos

        parts = [
            BuiltinPhotos(resolution=r, num_items=config.num_items, seed=seed + i)
            for i, r in enumerate(config.builtin_resolutions)
        ]
        sides = [r for r in config.builtin_resolutions for _ in range(config.num_items)]
        return _Epochs(parts), sides
    from infd_io.image_folder import ImageFolderDataset

    images = ImageFolderDataset(config.source)
    return images, [min(h, w) for h, w in images.sizes]


@dataclasses.dataclass
class TrainingBatch:
    """Encoder inputs, ground-truth patches and their coordinates/cells relative to the whole image."""

    encoder_input: torch.Tensor  # (B, 3, E, E)
    patch: torch.Tensor  # (B, 3, P, P)
    coords: torch.Tensor  # (B, P, P, 2)
    cells: torch.Tensor  # (B, P, P, 2)

    def to(self, device: torch.device) -> TrainingBatch:
        return TrainingBatch(*(t.to(device) for t in dataclasses.astuple(self)))

    def select(self, rows: range) -> TrainingBatch:
        """The samples ``rows`` (a contiguous range of this batch's rows)."""
        return TrainingBatch(*(t[rows.start : rows.stop] for t in dataclasses.astuple(self)))


class PatchBatches:
    """Deterministic training batches by step (see the module docstring)."""

    def __init__(self, config: DataConfig, encoder_size: int, seed: int) -> None:
        from infd_io.patches import MultiScalePatchDataset

        self.config, self.encoder_size, self.seed = config, encoder_size, seed
        images, self.sides = build_images(config, seed)
        if len(self.sides) == 0:
            raise ConfigError(f"data.source {config.source!r} holds no usable image")
        low = config.min_size or config.patch_size
        small = [s for s in self.sides if s < config.patch_size]
        if small:
            raise ConfigError(
                f"data: {len(small)} images have a short side below patch_size {config.patch_size}"
            )
        self.images = _Remember(images)
        self.patches = MultiScalePatchDataset(self.images, config.patch_size, low, config.max_size, seed=seed)
        self._order: tuple[int, torch.Tensor] | None = None
        self.high = [i for i, s in enumerate(self.sides) if s >= config.high_resolution]
        self.low = [i for i, s in enumerate(self.sides) if s < config.high_resolution]
        if config.balanced is not None and not (self.high and self.low):
            raise ConfigError(
                f"data.balanced needs images on both sides of data.high_resolution {config.high_resolution} "
                f"(short sides {min(self.sides)}–{max(self.sides)})"
            )

    def __len__(self) -> int:
        return len(self.sides)

    def index(self, k: int) -> tuple[int, int]:
        """(image index, epoch) of stream item ``k``."""
        n = len(self.sides)
        epoch = k // n
        if self.config.balanced is not None:  # Table 4: a high-resolution image with probability p
            g = derive_generator(self.seed, "balanced", k)
            pool = self.high if float(torch.rand((), generator=g)) < self.config.balanced else self.low
            return pool[int(torch.randint(len(pool), (), generator=g))], epoch
        if self._order is None or self._order[0] != epoch:  # one shuffled order per epoch
            self._order = (epoch, torch.randperm(n, generator=derive_generator(self.seed, "order", epoch)))
        return int(self._order[1][k % n]), epoch

    def item(self, k: int) -> dict[str, Any]:
        index, epoch = self.index(k)
        self.patches.set_epoch(epoch)
        item = self.patches[index]
        image = self.images[index]["image"]
        item["encoder_input"] = resample_for_encoder(image[None], self.encoder_size)[0].clamp(-1, 1)
        return item

    def __call__(self, step: int, samples: Sequence[int] | None = None) -> TrainingBatch:
        """Batch ``step``, or only its global samples ``samples`` (a rank's micro-batch)."""
        b = self.config.batch_size
        samples = range(b) if samples is None else samples
        items = [self.item(step * b + int(i)) for i in samples]
        return TrainingBatch(*(torch.stack([it[key] for it in items]) for key in _KEYS))

    def encoder_inputs(
        self, step: int, batch_size: int, samples: Sequence[int] | None = None
    ) -> torch.Tensor:
        """Whole images resampled for the encoder (latent-diffusion training), ``(B, 3, E, E)``; only
        the global samples ``samples`` of the batch when given."""
        out = []
        samples = range(batch_size) if samples is None else samples
        for k in (step * batch_size + int(i) for i in samples):
            index, epoch = self.index(k)
            self.images.set_epoch(epoch)
            image = self.images[index]["image"]
            out.append(resample_for_encoder(image[None], self.encoder_size)[0].clamp(-1, 1))
        return torch.stack(out)


_KEYS = ("encoder_input", "patch", "coords", "cells")
