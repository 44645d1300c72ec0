"""OME-Zarr stores as images: crops are read lazily region by region, never the whole image.

Each store is one image (often gigapixel). Crops at resolution ``R`` are read from the smallest pyramid
level whose shorter side is at least ``R`` and resized to the patch size; whole images (plain FID) come
from the smallest level at least as large as the extractor's input.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from infd_core.errors import UsageError
from infd_metrics.crops import CropSampler
from infd_metrics.resize import resize
from infd_metrics.sources import ImageSource, to_rgb

logger = logging.getLogger(__name__)


def _pixels(block: np.ndarray, where: str) -> torch.Tensor:
    """A region read from a store as a float tensor in [0, 1]."""
    if block.dtype == np.uint8:
        return torch.from_numpy(block.astype(np.float32) / 255.0)
    if block.dtype == np.uint16:
        return torch.from_numpy(block.astype(np.float32) / 65535.0)
    if np.issubdtype(block.dtype, np.floating):
        return torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32))
    raise UsageError(f"{where}: unsupported pixel type {block.dtype} (uint8, uint16 or float)")


class ZarrSource(ImageSource):
    """One image per OME-Zarr store ``(C, H, W)`` with C = 1 or 3 (the same for every store)."""

    def __init__(self, urls: Sequence[str]) -> None:
        from infd_io.store_info import store_info  # the defining module: see the report on infd-io

        if not urls:
            raise UsageError("no OME-Zarr stores given")
        self.urls = [str(u) for u in urls]
        self.label = self.urls[0] if len(self.urls) == 1 else f"{len(self.urls)} OME-Zarr stores"
        self.infos = [store_info(url) for url in self.urls]
        channels = {info.levels[0].shape[0] for info in self.infos}
        for info in self.infos:
            if len(info.levels[0].shape) != 3 or info.levels[0].shape[0] not in (1, 3):
                raise UsageError(f"{info.url}: images must be (c, y, x) with 1 or 3 channels")
        if len(channels) > 1:
            raise UsageError(f"OME-Zarr stores of mixed channel counts: {sorted(channels)}")

    def __len__(self) -> int:
        return len(self.urls)

    def _level(self, index: int, min_side: int | None) -> int:
        """The smallest level whose shorter side is at least ``min_side`` (level 0 otherwise)."""
        chosen = 0
        if min_side is not None:
            for level, info in enumerate(self.infos[index].levels):
                if min(info.shape[1:]) >= min_side:
                    chosen = level
        return chosen

    def image(self, index: int, min_side: int | None = None) -> torch.Tensor:
        from infd_io.store_info import read_region

        level = self._level(index, min_side)
        shape = self.infos[index].levels[level].shape
        if shape[0] * shape[1] * shape[2] > 2**28:
            raise UsageError(
                f"{self.urls[index]}: level {level} is {shape[1]}x{shape[2]}, too large to read whole; "
                "use patch-FID (crops) for gigapixel stores"
            )
        where = f"{self.urls[index]} level {level}"
        return to_rgb(_pixels(read_region(self.urls[index], level), where), where)

    def crops(self, index: int, sampler: CropSampler) -> torch.Tensor:
        from infd_io.store_info import read_region

        url = self.urls[index]
        _, height, width = self.infos[index].levels[0].shape
        level = self._level(index, sampler.resolution)
        source_size = tuple(self.infos[index].levels[level].shape[1:])
        where = f"{url} level {level}"
        side = sampler.patch_size
        crops = []
        for rows, cols in sampler.regions(height, width, index, source_size, url):
            block = to_rgb(_pixels(read_region(url, level, rows, cols), where), where)
            crops.append(resize(block[None], (side, side))[0].clamp(0.0, 1.0))
        return torch.stack(crops)

    def fingerprint(self) -> dict[str, Any]:
        stores = []
        for info in self.infos:
            level = info.levels[0]
            stores.append([info.url, list(level.shape), level.dtype, level.tiles_done, len(info.levels)])
        return {"kind": "ome-zarr", "stores": stores}
