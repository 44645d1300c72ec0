"""Random ``P × P`` crops of images seen at resolution ``R`` (patch-FID, crop-FID).

An image of size ``(H, W)`` seen at resolution ``R`` is (virtually) resized so that its shorter side is
``R`` (``resolution=None``: kept at its native size); crops are drawn uniformly from it. Only the crop
windows are read and resized, never the whole image at resolution ``R``. Every image index
has its own generator derived from ``(seed, index)``, so the crops do not depend on batching or order.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from infd_core.errors import UsageError
from infd_metrics.resize import resize

Position = tuple[int, int]
Region = tuple[tuple[int, int], tuple[int, int]]


@dataclasses.dataclass(frozen=True)
class CropSampler:
    """Where the crops of each image lie: ``crops_per_image`` uniform positions per image."""

    patch_size: int
    resolution: int | None = None
    crops_per_image: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.patch_size < 1 or self.crops_per_image < 1:
            raise UsageError("patch_size and crops_per_image must be positive")
        if self.resolution is not None and self.resolution < self.patch_size:
            raise UsageError(f"resolution {self.resolution} is smaller than the patch size {self.patch_size}")

    def describe(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def generator(self, index: int) -> torch.Generator:
        """The generator of image ``index`` (independent of every other image's)."""
        return torch.Generator().manual_seed((self.seed * 0x9E3779B1 + index * 0x85EBCA77 + 1) % 2**63)

    def scaled_size(self, height: int, width: int) -> tuple[int, int]:
        """The image size at the sampler's resolution (shorter side ``resolution``)."""
        if self.resolution is None:
            return height, width
        scale = self.resolution / min(height, width)
        return max(self.resolution, round(height * scale)), max(self.resolution, round(width * scale))

    def positions(self, height: int, width: int, index: int, where: str = "image") -> list[Position]:
        """Top-left corners (in resolution-``R`` pixels) of image ``index``'s crops."""
        scaled = self.scaled_size(height, width)
        if min(scaled) < self.patch_size:
            raise UsageError(
                f"{where} is {height}x{width}: too small for {self.patch_size}² crops"
                + (f" at resolution {self.resolution}" if self.resolution else "")
            )
        generator = self.generator(index)
        tops = torch.randint(0, scaled[0] - self.patch_size + 1, (self.crops_per_image,), generator=generator)
        lefts = torch.randint(
            0, scaled[1] - self.patch_size + 1, (self.crops_per_image,), generator=generator
        )
        return [(int(t), int(s)) for t, s in zip(tops, lefts, strict=True)]

    def regions(
        self,
        height: int,
        width: int,
        index: int,
        source_size: tuple[int, int] | None = None,
        where: str = "image",
    ) -> list[Region]:
        """The crops of image ``index`` (``height × width``) as pixel windows of a copy of the image of
        ``source_size`` (default: the image itself), e.g. a pyramid level; each window is resized to
        ``patch_size²``. Windows are widened to whole pixels, so a crop may cover up to one extra source
        pixel when the scale is not an integer; at scale 1 they are exact."""
        scaled_h, scaled_w = self.scaled_size(height, width)
        source_h, source_w = source_size or (height, width)
        step_y, step_x = source_h / scaled_h, source_w / scaled_w  # source pixels per crop pixel
        side = self.patch_size
        regions = []
        for top, left in self.positions(height, width, index, where):
            y0, x0 = math.floor(top * step_y), math.floor(left * step_x)
            y1 = min(source_h, max(y0 + 1, math.ceil((top + side) * step_y - 1e-9)))
            x1 = min(source_w, max(x0 + 1, math.ceil((left + side) * step_x - 1e-9)))
            regions.append(((y0, y1), (x0, x1)))
        return regions

    def crop(self, image: torch.Tensor, index: int, where: str = "image") -> torch.Tensor:
        """``(k, C, P, P)`` crops of an in-memory ``(C, H, W)`` image (only the crop windows are resized)."""
        height, width = image.shape[-2:]
        side = self.patch_size
        crops = [
            resize(image[None, :, y0:y1, x0:x1], (side, side))[0].clamp(0.0, 1.0)
            for (y0, y1), (x0, x1) in self.regions(height, width, index, where=where)
        ]
        return torch.stack(crops)
