"""infd-io's plugin: registers its datasets, its writer and the ``infd io`` commands.

Kept light: factories and configs are import paths, so listing plugins imports neither torch nor zarr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infd_core import ComponentSpec, hookimpl

if TYPE_CHECKING:
    import click

_CONFIGS = "infd_io.configs"


@hookimpl
def infd_datasets() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="image-folder",
            factory="infd_io.image_folder:ImageFolderDataset.from_config",
            config=f"{_CONFIGS}:ImageFolderConfig",
            description="images of mixed resolution from a folder or URL (bad files skipped and counted)",
        ),
        ComponentSpec(
            name="builtin-photos",
            factory="infd_io.photos:BuiltinPhotos.from_config",
            config=f"{_CONFIGS}:BuiltinPhotosConfig",
            description="random crops of public-domain photographs shipped offline, at any resolution",
        ),
        ComponentSpec(
            name="cifar10-binary",
            factory="infd_io.cifar10:Cifar10Binary.from_config",
            config=f"{_CONFIGS}:Cifar10BinaryConfig",
            description="CIFAR-10 binary batches (data_batch_N.bin) with labels, read without unpickling",
        ),
        ComponentSpec(
            name="pcam-hdf5",
            factory="infd_io.pcam:PCamHDF5.from_config",
            config=f"{_CONFIGS}:PCamConfig",
            description="PatchCamelyon HDF5 patches (_x.h5) with labels (_y.h5); needs infd-io[hdf5]",
        ),
        ComponentSpec(
            name="coordinate-subsample",
            factory="infd_io.subsample:CoordinateSubsampleDataset.from_config",
            config=f"{_CONFIGS}:CoordinateSubsampleConfig",
            description="a uniform random subset of pixels per image as coordinates + values (∞-Diff)",
        ),
        ComponentSpec(
            name="multiscale-patches",
            factory="infd_io.patches:MultiScalePatchDataset.from_config",
            config=f"{_CONFIGS}:MultiScalePatchConfig",
            description="P×P patches of randomly downsampled images with coordinates and cells (INFD)",
        ),
        ComponentSpec(
            name="function-curves",
            factory="infd_io.functions:FunctionDataset.from_config",
            config=f"{_CONFIGS}:FunctionDatasetConfig",
            description="1-D functions (coordinates + values per curve) from NPZ or CSV",
        ),
    ]


@hookimpl
def infd_writers() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="ome-zarr",
            factory="infd_io.writer:TiledWriter.from_config",
            config=f"{_CONFIGS}:TiledWriterConfig",
            description="resumable tiled OME-Zarr (NGFF 0.5 / 0.4) pyramid writer, multi-process safe",
        ),
    ]


@hookimpl
def infd_cli_commands(cli: click.Group) -> None:
    from infd_io.cli import io_group

    cli.add_command(io_group)


@hookimpl
def infd_read_output(path: str) -> Any | None:
    """An OME-Zarr image (``*.zarr``) as its full-resolution ``(C, H, W)`` tensor (uint8 or float32)."""
    if not path.rstrip("/").endswith(".zarr"):
        return None
    import torch

    from infd_io.store_info import read_region

    return torch.from_numpy(read_region(path, 0))
