"""Neighbour maps: for every output point, the input point under each tap of a k × k window.

Output point ``p`` (on the output grid) looks at input positions ``p · stride + dilation · (dy, dx)`` for
``dy, dx ∈ [−r, r]``, ``r = k // 2``; taps are numbered row-major, ``tap = (dy + r) · k + (dx + r)``.
``indices[i, tap]`` is the input row of that position or ``-1`` when no input point sits there.

The default lookup uses sorted int64 keys and ``searchsorted``: memory is O(N · k²) for the map itself,
never O(H · W), so grids can be arbitrarily large. A sparse backend may bring its own lookup (a method
``neighbour_lookup(inputs)``, e.g. infd-torchsparse's GPU hash table); ``build_neighbours`` uses it when
that backend is named or chosen. A map built once is shared by every layer on the same coordinate sets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from infd_sparse.coords import CoordinateBatch
from infd_sparse.errors import SparseInputError


@dataclasses.dataclass(frozen=True)
class NeighbourMap:
    """``indices`` ``int32 [N_out, k²]`` (−1: empty tap) and ``counts`` ``int32 [N_out]`` of filled taps."""

    indices: torch.Tensor
    counts: torch.Tensor
    kernel_size: int
    num_inputs: int
    dilation: int = 1
    stride: int = 1
    #: True when inputs and outputs are the same set with stride 1, so the map is its own transpose
    #: with the taps mirrored (backward passes can gather instead of scatter).
    symmetric: bool = False

    @property
    def num_outputs(self) -> int:
        return int(self.indices.shape[0])

    @property
    def num_taps(self) -> int:
        return self.kernel_size * self.kernel_size

    @property
    def device(self) -> torch.device:
        return self.indices.device

    def to(self, device: torch.device | str) -> NeighbourMap:
        return dataclasses.replace(self, indices=self.indices.to(device), counts=self.counts.to(device))


def check_kernel_size(kernel_size: int) -> int:
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise SparseInputError(f"kernel size must be a positive odd integer, got {kernel_size!r}")
    return kernel_size


def tap_offsets(kernel_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``int64 [k², 2]`` offsets ``(dy, dx)`` in tap order."""
    r = check_kernel_size(kernel_size) // 2
    steps = torch.arange(-r, r + 1, device=device)
    dy, dx = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([dy.reshape(-1), dx.reshape(-1)], 1)


#: ``lookup(batch [n], positions [n, taps, 2])`` → int64 ``[n, taps]``: the input row of every
#: (sample, row, column) position, −1 where no input point sits (positions may lie outside the grid).
NeighbourLookup = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def sorted_key_lookup(inputs: CoordinateBatch) -> NeighbourLookup:
    """Exact lookup by binary search in the inputs' sorted keys (any device, O(N) extra memory)."""
    height, width = inputs.grid
    sorted_keys, order = torch.sort(inputs.keys())

    def lookup(batch: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        query = (batch[:, None] * height + positions[..., 0]) * width + positions[..., 1]
        if not len(sorted_keys):
            return torch.full_like(query, -1)
        where = torch.searchsorted(sorted_keys, query).clamp_(max=len(sorted_keys) - 1)
        return torch.where(sorted_keys[where] == query, order[where], -1)

    return lookup


def build_neighbours(
    inputs: CoordinateBatch,
    outputs: CoordinateBatch | None = None,
    kernel_size: int = 7,
    dilation: int = 1,
    stride: int = 1,
    chunk_points: int = 1 << 18,
    backend: str = "auto",
) -> NeighbourMap:
    """The neighbour map from ``inputs`` to ``outputs`` (default: the same set).

    With ``stride`` > 1 the outputs live on the coarser grid (e.g. :func:`infd_sparse.coords.downsample`).
    ``backend``: ``"sorted"`` for the sorted-key lookup, or a sparse backend's name (``"auto"``: the hooks'
    choice for the device) whose own ``neighbour_lookup`` is used if it has one, the sorted keys otherwise.
    """
    check_kernel_size(kernel_size)
    if dilation < 1 or stride < 1:
        raise SparseInputError(f"dilation and stride must be >= 1, got {dilation} and {stride}")
    same = outputs is None
    outputs = inputs if outputs is None else outputs
    if outputs.batch_size != inputs.batch_size:
        raise SparseInputError(
            f"batch sizes differ: {inputs.batch_size} inputs, {outputs.batch_size} outputs"
        )
    if outputs.device != inputs.device:
        raise SparseInputError(f"inputs on {inputs.device} but outputs on {outputs.device}")
    if inputs.num_points >= 2**31:
        raise SparseInputError(f"at most 2**31 - 1 input points per map, got {inputs.num_points}")
    lookup = _lookup_for(backend, inputs)
    height, width = inputs.grid
    offsets = tap_offsets(kernel_size, inputs.device) * dilation
    num_out, taps = outputs.num_points, kernel_size * kernel_size
    indices = torch.empty(num_out, taps, dtype=torch.int32, device=inputs.device)
    for start in range(0, num_out, chunk_points):
        coords = outputs.coords[start : start + chunk_points] * stride
        batch = outputs.batch[start : start + chunk_points]
        pos = coords[:, None, :] + offsets[None, :, :]  # [n, taps, 2]
        inside = (pos[..., 0] >= 0) & (pos[..., 0] < height) & (pos[..., 1] >= 0) & (pos[..., 1] < width)
        found = lookup(batch, pos)
        indices[start : start + len(coords)] = torch.where(inside, found, -1).to(torch.int32)
    counts = (indices >= 0).sum(1, dtype=torch.int32)
    return NeighbourMap(
        indices=indices,
        counts=counts,
        kernel_size=kernel_size,
        num_inputs=inputs.num_points,
        dilation=dilation,
        stride=stride,
        symmetric=same and stride == 1,
    )


def _lookup_for(backend: str, inputs: CoordinateBatch) -> NeighbourLookup:
    if backend == "sorted":
        return sorted_key_lookup(inputs)
    from infd_sparse.backends.select import get_backend  # the backends import this module

    impl = get_backend(backend, inputs.device, torch.float32)
    own = getattr(impl, "neighbour_lookup", None)
    return own(inputs) if own is not None else sorted_key_lookup(inputs)
