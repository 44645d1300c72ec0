"""infd-sparse: sparse depthwise neural-operator kernels on subsampled pixel coordinates.

Names are imported lazily so that loading the plugin (``infd plugins``) does not import torch.
"""

from __future__ import annotations

from infd_core.lazy import lazy_exports

_EXPORTS = {
    "CoordinateBatch": "infd_sparse.coords",
    "GridWindow": "infd_sparse.coords",
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
    "DenseWindow": "infd_sparse.dense",
    "dense_depthwise_conv": "infd_sparse.dense",
    "dense_depthwise_conv_points": "infd_sparse.dense",
    "PointEvaluator": "infd_sparse.evaluation",
    "WholeSet": "infd_sparse.evaluation",
    "GridTiles": "infd_sparse.evaluation",
    "StreamedGrid": "infd_sparse.streamed",
    "StoredField": "infd_sparse.streamed",
    "TilePlan": "infd_sparse.streamed",
    "plan_tiles": "infd_sparse.streamed",
    "bilinear_splat_sums": "infd_sparse.resample",
    "normalise_splat": "infd_sparse.resample",
    "grid_to_sparse": "infd_sparse.resample",
    "sparse_to_grid_bilinear": "infd_sparse.resample",
    "sparse_to_grid_mean": "infd_sparse.resample",
    "NearestValues": "infd_sparse.nearest",
    "nearest_points": "infd_sparse.nearest",
    "nearest_values": "infd_sparse.nearest",
    "inverse_distance_grid": "infd_sparse.nearest",
    "sparse_to_grid_knn": "infd_sparse.nearest",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
