"""infd-io: datasets and a resumable tiled OME-Zarr writer for infd.

Importing the package is cheap: the writer (zarr) and the datasets (torch) load on first use.
"""

from __future__ import annotations

from infd_core.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "TiledWriter": "infd_io.writer",
    "TileGrid": "infd_io.tiling",
    "open_shared_writer": "infd_io.sharded",
    "write_shared": "infd_io.sharded",
    "finalize_shared": "infd_io.sharded",
    "write_array_shared": "infd_io.sharded",
    "downsample_2x": "infd_io.downsample",
    "store_info": "infd_io.store_info",
    "read_region": "infd_io.store_info",
    "is_finished_store": "infd_io.store_info",
    "write_preview": "infd_io.export",
    "export_image": "infd_io.export",
    "preview_path": "infd_io.naming",
    "store_name": "infd_io.naming",
    "sample_store_url": "infd_io.naming",
    "ImageFolderDataset": "infd_io.image_folder",
    "CoordinateSubsampleDataset": "infd_io.subsample",
    "MultiScalePatchDataset": "infd_io.patches",
    "FunctionDataset": "infd_io.functions",
    "BuiltinPhotos": "infd_io.photos",
    "Cifar10Binary": "infd_io.cifar10",
    "PCamHDF5": "infd_io.pcam",
    "load_photo": "infd_io.photos",
    "PHOTO_NAMES": "infd_io.photos",
    "pixel_centres": "infd_io.coordinates",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
