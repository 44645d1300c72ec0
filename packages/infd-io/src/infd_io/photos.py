"""Built-in photographs (public domain / CC0, shipped with the package) as random crops.

No download: seven photographs from scikit-image's sample data are shipped, downsized to a short side
of 320 pixels (see ``data/photos/SOURCES.md``). Demos and tests train on random square crops of them
resized to any resolution.
"""

from __future__ import annotations

import functools
import math
from importlib import resources
from typing import Any

import torch
from torch.utils.data import Dataset

from infd_core.errors import UsageError
from infd_core.seeding import derive_generator
from infd_io.images import decode_image
from infd_io.transforms import resize_image, to_value_range

PHOTO_NAMES: tuple[str, ...] = (
    "astronaut",
    "chelsea",
    "coffee",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "rocket",
)


@functools.cache
def _photo_bytes(name: str) -> bytes:
    if name not in PHOTO_NAMES:
        raise UsageError(f"unknown photo {name!r}; available: {', '.join(PHOTO_NAMES)}")
    return resources.files("infd_io").joinpath("data", "photos", f"{name}.jpg").read_bytes()


def load_photo(name: str, channels: int = 3) -> torch.Tensor:
    """One built-in photograph as (channels, h, w) float32 in [0, 1]."""
    return torch.from_numpy(decode_image(_photo_bytes(name), channels))


class BuiltinPhotos(Dataset):
    """``num_items`` random square crops of the built-in photographs, resized to ``resolution``².

    Item ``i`` crops photo ``i mod n`` with a generator derived from ``(seed, "item", i, epoch)``, so
    items do not depend on worker count or order. The crop side is drawn uniformly between
    ``min_crop_fraction`` × the photo's short side and the short side.
    Items: ``{"image": (c, r, r) in value_range, "index", "photo", "crop": (top, left, side)}``.
    """

    def __init__(
        self,
        resolution: int = 64,
        num_items: int = 1024,
        seed: int = 0,
        min_crop_fraction: float = 0.25,
        channels: int = 3,
        value_range: tuple[float, float] = (-1.0, 1.0),
        photos: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        if resolution < 1 or num_items < 1 or not 0.0 < min_crop_fraction <= 1.0:
            raise UsageError("resolution and num_items must be positive, min_crop_fraction in (0, 1]")
        if channels not in (1, 3):
            raise UsageError(f"channels must be 1 or 3, got {channels}")
        self.names = tuple(photos) if photos else PHOTO_NAMES
        unknown = [n for n in self.names if n not in PHOTO_NAMES]
        if unknown:
            raise UsageError(f"unknown photos {unknown}; available: {', '.join(PHOTO_NAMES)}")
        self.resolution = resolution
        self.num_items = num_items
        self.seed = seed
        self.min_crop_fraction = min_crop_fraction
        self.channels = channels
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.epoch = 0
        self._photos: dict[str, torch.Tensor] = {}

    @classmethod
    def from_config(cls, config: Any) -> BuiltinPhotos:
        return cls(
            resolution=config.resolution,
            num_items=config.num_items,
            seed=config.seed,
            min_crop_fraction=config.min_crop_fraction,
            channels=config.channels,
            value_range=tuple(config.value_range),
            photos=config.photos,
        )

    def set_epoch(self, epoch: int) -> None:
        """Draw different crops in each epoch (same crops for the same epoch)."""
        self.epoch = int(epoch)

    def photo(self, name: str) -> torch.Tensor:
        if name not in self._photos:
            self._photos[name] = load_photo(name, self.channels)
        return self._photos[name]

    def __len__(self) -> int:
        return self.num_items

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.num_items:
            raise IndexError(f"index {index} out of range for {self.num_items} items")
        generator = derive_generator(self.seed, "item", index, self.epoch)
        name = self.names[index % len(self.names)]
        image = self.photo(name)
        height, width = image.shape[-2:]
        short = min(height, width)
        smallest = max(1, math.ceil(self.min_crop_fraction * short))
        side = int(torch.randint(smallest, short + 1, (1,), generator=generator))
        top = int(torch.randint(0, height - side + 1, (1,), generator=generator))
        left = int(torch.randint(0, width - side + 1, (1,), generator=generator))
        crop = image[:, top : top + side, left : left + side]
        resized = resize_image(crop, self.resolution, self.resolution)
        return {
            "image": to_value_range(resized, self.value_range),
            "index": index,
            "photo": name,
            "crop": torch.tensor([top, left, side]),
        }
