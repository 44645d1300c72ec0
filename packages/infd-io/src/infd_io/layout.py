"""The layout of a tiled image store: what fixes its bytes, validated before anything is written."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from infd_core.errors import UsageError
from infd_io.ngff import NGFF_VERSIONS
from infd_io.tiling import TileGrid, default_levels, is_power_of_two, max_levels

DTYPES = ("uint8", "float32")
COMPRESSIONS = ("zstd", "lz4", "none")
_UNSUPPORTED_FLOATS = ("float16", "float64")


@dataclasses.dataclass(frozen=True)
class StoreLayout:
    """Everything that fixes the bytes of a store; a resumed run must ask for the same layout."""

    shape: tuple[int, int, int]
    dtype: str
    chunks: int
    tile_size: int
    levels: int
    ngff_version: str
    compression: str

    @property
    def grid(self) -> TileGrid:
        return TileGrid(self.shape, self.tile_size, self.levels)

    @property
    def zarr_format(self) -> int:
        return 3 if self.ngff_version == "0.5" else 2

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "shape": list(self.shape)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoreLayout:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["shape"] = tuple(int(s) for s in values["shape"])
        return cls(**values)

    def differences(self, other: StoreLayout) -> list[str]:
        """Human-readable 'field X, not Y' for every field where ``self`` differs from ``other``."""
        out = []
        for field in dataclasses.fields(self):
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if mine != theirs:
                out.append(f"{field.name} {mine}, not {theirs}")
        return out


def check_dtype(dtype: Any) -> str:
    """The dtype name if it is uint8 or float32; a UsageError explaining why otherwise."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise UsageError(f"unknown dtype {dtype!r}; use 'uint8' or 'float32'") from None
    if name in _UNSUPPORTED_FLOATS:
        raise UsageError(f"dtype {name} is not supported: OME-Zarr viewers read uint8 and float32 only")
    if name not in DTYPES:
        raise UsageError(f"dtype {name} is not supported; use 'uint8' or 'float32'")
    return name


def make_layout(
    shape: Sequence[int],
    dtype: Any,
    chunks: int,
    levels: int | None,
    tile_size: int,
    ngff_version: str,
    compression: str,
) -> StoreLayout:
    """Validate writer arguments (before anything is written) and return the store layout."""
    if len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise UsageError(f"shape must be three positive ints (channels, height, width), got {tuple(shape)}")
    channels, height, width = (int(s) for s in shape)
    if not is_power_of_two(chunks) or chunks < 8:
        raise UsageError(f"chunks must be a power of two >= 8 (square chunks for viewers), got {chunks}")
    if not is_power_of_two(tile_size) or tile_size < chunks:
        raise UsageError(f"tile_size must be a power of two >= chunks ({chunks}), got {tile_size}")
    if ngff_version not in NGFF_VERSIONS:
        raise UsageError(f"ngff_version must be one of {', '.join(NGFF_VERSIONS)}, got {ngff_version!r}")
    if compression not in COMPRESSIONS:
        raise UsageError(f"compression must be one of {', '.join(COMPRESSIONS)}, got {compression!r}")
    limit = max_levels(height, width)
    if levels is None:
        levels = default_levels(height, width, tile_size)
    elif isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels <= limit:
        raise UsageError(f"levels must be an int in 1..{limit} for a {height}x{width} image, got {levels}")
    return StoreLayout(
        (channels, height, width), check_dtype(dtype), chunks, tile_size, levels, ngff_version, compression
    )
