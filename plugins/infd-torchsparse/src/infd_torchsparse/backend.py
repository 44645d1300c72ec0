"""The ``torchsparse`` sparse backend: torchsparse builds the neighbour maps, infd kernels convolve.

Released torchsparse has no depthwise convolution (its convolutions mix all channels), so the depthwise,
count-normalised convolution of ∞-Diff runs on infd-sparse's own kernels, chosen by ``compute``.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from infd_core.config import StrictModel
from infd_sparse import CoordinateBatch, NeighbourMap
from infd_sparse.backends.select import SparseBackend, get_backend
from infd_sparse.neighbours import NeighbourLookup
from infd_sparse.plugin import infd_choose_sparse_backend as infd_sparse_choice
from infd_torchsparse.hashing import hash_lookup, load_torchsparse


class TorchsparseBackendConfig(StrictModel):
    """Which infd-sparse kernels run the convolution over torchsparse-built maps."""

    compute: Literal["auto", "torch", "triton"] = Field(
        "auto", description="auto: triton on CUDA when installed, torch otherwise"
    )


class TorchsparseBackend:
    """Sparse backend whose neighbour lookup is torchsparse's hash table."""

    name = "torchsparse"

    def __init__(self, config: TorchsparseBackendConfig | None = None) -> None:
        self.config = config or TorchsparseBackendConfig()
        load_torchsparse()  # a clear error now rather than at the first lookup

    def _compute(self, device: torch.device, dtype: torch.dtype) -> SparseBackend:
        name = self.config.compute
        if name == "auto":
            name = infd_sparse_choice(device.type, str(dtype).removeprefix("torch.")) or "torch"
        return get_backend(name, device, dtype)

    def supports(self, device: torch.device, dtype: torch.dtype) -> bool:
        return self._compute(device, dtype).supports(device, dtype)

    def neighbour_lookup(self, inputs: CoordinateBatch) -> NeighbourLookup:
        return hash_lookup(inputs, load_torchsparse())

    def depthwise_conv(
        self, values: torch.Tensor, neighbours: NeighbourMap, weight: torch.Tensor, normalise: bool
    ) -> torch.Tensor:
        """``weight`` is ``[C, k²]``; the map may come from any lookup."""
        compute = self._compute(values.device, values.dtype)
        return compute.depthwise_conv(values, neighbours, weight, normalise)
