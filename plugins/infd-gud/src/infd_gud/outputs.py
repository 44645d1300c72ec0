"""Writing GUD outputs: PNG files, small OME-Zarr images, the NLL JSON and the schedule plot."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infd_io.sharded import open_shared_writer, write_array_shared
from infd_measures.componentwise import ComponentwiseSchedule
from infd_measures.plotting import plot_component_schedules

logger = logging.getLogger(__name__)


def write_png(path: Path, image: np.ndarray) -> Path:
    """A uint8 image ``(C, H, W)`` (C = 1 or 3) to a PNG file."""
    from matplotlib import image as mpl_image

    path.parent.mkdir(parents=True, exist_ok=True)
    if image.shape[0] == 1:
        mpl_image.imsave(path, image[0], cmap="gray", vmin=0, vmax=255)
    else:
        mpl_image.imsave(path, np.ascontiguousarray(image.transpose(1, 2, 0)))
    return path


def power_of_two_at_least(value: int, minimum: int = 8) -> int:
    return max(minimum, 1 << (max(1, value) - 1).bit_length())


def write_zarr(
    url: str,
    image: np.ndarray,
    *,
    tile_size: int = 256,
    on_tile_written: Callable[[Any], None] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> str:
    """A uint8 image ``(C, H, W)`` held in memory (by every rank) to an OME-Zarr store, tile by tile;
    the ranks of a distributed run write disjoint tiles. With ``provenance`` (the run's fingerprint) an
    interrupted store of the same fingerprint keeps its tiles and another run's store is refused;
    without it the store is replaced."""
    side = min(tile_size, power_of_two_at_least(max(image.shape[1:])))
    writer = open_shared_writer(url, image.shape, "uint8", chunks=min(side, 64), tile_size=side,
                                overwrite=provenance is None, value_range=(0.0, 255.0),
                                on_tile_written=on_tile_written, provenance=provenance)  # fmt: skip
    write_array_shared(writer, image)
    return url


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def plot_schedule(schedule: ComponentwiseSchedule, path: Path, count: int, title: str) -> Path:
    """GUD Fig. 2-style plot of ``count`` components spread over the index range."""
    size = schedule.num_components
    indices = sorted({int(i) for i in torch.linspace(0, size - 1, min(count, size)).round().tolist()})
    return plot_component_schedules(schedule, indices, path, title=title)


__all__ = ["plot_schedule", "power_of_two_at_least", "write_json", "write_png", "write_zarr"]
