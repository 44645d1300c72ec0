"""infd-sparse: sparse depthwise neural-operator kernels on subsampled pixel coordinates.

Names are imported lazily so that loading the plugin (``infd plugins``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CoordinateBatch": "infd_sparse.coords",
    "downsample": "infd_sparse.coords",
    "NeighbourMap": "infd_sparse.neighbours",
    "build_neighbours": "infd_sparse.neighbours",
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


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'infd_sparse' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
