"""Pydantic configs of the infd-io components (imports neither torch nor zarr)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from infd_core.config import StrictModel


def _power_of_two(value: int, name: str) -> int:
    if value < 1 or value & (value - 1):
        raise ValueError(f"{name} must be a power of two, got {value}")
    return value


class _Config(StrictModel):
    """Base of this package's configs: unknown keys and non-finite numbers are errors."""


class ValueRangeMixin(_Config):
    value_range: tuple[float, float] = Field((-1.0, 1.0), description="pixel values are mapped to this range")

    @field_validator("value_range")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError("value_range must be (low, high) with low < high")
        return value


class ImageFolderConfig(ValueRangeMixin):
    """Every image (PNG, JPEG, WebP, TIFF) under a folder or fsspec URL, at its own resolution."""

    kind: Literal["folder"] = "folder"
    root: str = Field(description="folder or fsspec URL, searched recursively")
    channels: Literal[1, 3] = 3
    verify_files: bool = Field(True, description="check every file's structure when the dataset is made")


class BuiltinPhotosConfig(ValueRangeMixin):
    """Random square crops of the photographs shipped with infd-io, resized to ``resolution``."""

    kind: Literal["builtin"] = "builtin"
    resolution: int = Field(64, ge=4, le=2048)
    num_items: int = Field(1024, ge=1, description="items per epoch (crops are drawn per item)")
    seed: int = Field(0, ge=0)
    min_crop_fraction: float = Field(0.25, gt=0.0, le=1.0, description="smallest crop side / short side")
    channels: Literal[1, 3] = 3
    photos: list[str] | None = Field(None, description="subset of photo names (default: all)")


class Cifar10BinaryConfig(ValueRangeMixin):
    """CIFAR-10's binary batches (records of 1 label byte + 3072 pixel bytes, CHW), read without pickle."""

    kind: Literal["cifar10-binary"] = "cifar10-binary"
    path: str | list[str] = Field(
        description="a batch file (data_batch_N.bin, test_batch.bin), a list of them, or a folder whose "
        "data_batch_*.bin are read"
    )
    channels: Literal[1, 3] = 3


class PCamConfig(ValueRangeMixin):
    """PatchCamelyon's HDF5 files (needs h5py: ``pip install 'infd-io[hdf5]'``)."""

    kind: Literal["pcam-hdf5"] = "pcam-hdf5"
    x: str = Field(description="local camelyonpatch_level_2_split_<split>_x.h5 (dataset x: N×96×96×3 uint8)")
    y: str | None = Field(None, description="its _y.h5 (dataset y); default: the _y.h5 beside x, if any")
    channels: Literal[1, 3] = 3


ImageSourceConfig = Annotated[
    ImageFolderConfig | BuiltinPhotosConfig | Cifar10BinaryConfig | PCamConfig, Field(discriminator="kind")
]


class CoordinateSubsampleConfig(_Config):
    """A uniform random subset of pixels per image (coordinates + values), the ∞-Diff input."""

    images: ImageSourceConfig = Field(default_factory=BuiltinPhotosConfig)
    rate: float = Field(0.25, gt=0.0, le=1.0, description="fraction of pixels kept per image")
    seed: int = Field(0, ge=0)
    include_image: bool = False


class MultiScalePatchConfig(_Config):
    """INFD §4.1 patches: downsample by a random factor, crop P×P, with coordinates and cells."""

    images: ImageSourceConfig = Field(default_factory=BuiltinPhotosConfig)
    patch_size: int = Field(256, ge=1)
    min_size: int | None = Field(None, ge=1, description="smallest resized short side (default: patch_size)")
    max_size: int | None = Field(None, ge=1, description="largest resized short side (default: native)")
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _sizes(self) -> MultiScalePatchConfig:
        low = self.min_size if self.min_size is not None else self.patch_size
        if low < self.patch_size:
            raise ValueError("min_size must be at least patch_size")
        if self.max_size is not None and self.max_size < low:
            raise ValueError("max_size must be at least min_size (or patch_size)")
        return self


class FunctionDatasetConfig(_Config):
    """1-D functions (one curve per item: coordinates + values) from an NPZ or CSV file."""

    path: str = Field(description="a .npz or .csv file (local path or fsspec URL)")
    x_key: str = Field("x", description="NPZ array or CSV column of coordinates")
    y_keys: list[str] = Field(
        default_factory=lambda: ["y"], min_length=1, description="value arrays / columns"
    )
    curve_column: str = Field("curve", description="CSV column that names the curve of each row")


class TiledWriterConfig(_Config):
    """The tiled OME-Zarr writer (url and shape are given when it is built)."""

    dtype: Literal["uint8", "float32"] = "uint8"
    chunks: int = Field(256, ge=8, description="square chunk side, a power of two")
    tile_size: int = Field(1024, ge=8, description="square tile (= shard) side, a power of two")
    levels: int | None = Field(None, ge=1, description="pyramid levels (default: until one tile)")
    ngff_version: Literal["0.4", "0.5"] = "0.5"
    compression: Literal["zstd", "lz4", "none"] = "zstd"
    name: str | None = Field(None, description="the image's name (default: the store's, without .ome.zarr)")
    channel_names: list[str] | None = None
    value_range: tuple[float, float] | None = Field(None, description="display window (omero)")
    overwrite: bool = False

    @field_validator("chunks")
    @classmethod
    def _chunks(cls, value: int) -> int:
        return _power_of_two(value, "chunks")

    @field_validator("tile_size")
    @classmethod
    def _tile(cls, value: int) -> int:
        return _power_of_two(value, "tile_size")

    @model_validator(mode="after")
    def _tile_holds_chunks(self) -> TiledWriterConfig:
        if self.tile_size < self.chunks:
            raise ValueError("tile_size must be at least chunks")
        return self
