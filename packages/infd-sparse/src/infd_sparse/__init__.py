"""infd-sparse: sparse depthwise neural-operator kernels on subsampled pixel coordinates.

Names are imported lazily so that loading the plugin (``infd plugins``) does not import torch.
"""

from __future__ import annotations

from infd_core.lazy import lazy_exports

_EXPORTS = {
    "CoordinateBatch": "infd_sparse.coords",
    "downsample": "infd_sparse.coords",
    "NeighbourMap": "infd_sparse.neighbours",
    "build_neighbours": "infd_sparse.neighbours",
    "sorted_key_lookup": "infd_sparse.neighbours",
    "tap_offsets": "infd_sparse.neighbours",
    "depthwise_conv": "infd_sparse.conv",
    "SparseInputError": "infd_sparse.errors",
    "resize_kernel": "infd_sparse.kernels",
    "resized_kernel_size": "infd_sparse.kernels",
    "SparseConvConfig": "infd_sparse.layers",
    "SparseDepthwiseConv": "infd_sparse.layers",
    "grid_to_sparse": "infd_sparse.resample",
    "sparse_to_grid_bilinear": "infd_sparse.resample",
    "sparse_to_grid_mean": "infd_sparse.resample",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
