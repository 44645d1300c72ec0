"""Neighbour maps: for every output point, the input point under each tap of a k × k window.

Output point ``p`` (on the output grid) looks at input positions ``p · stride + dilation · (dy, dx)`` for
``dy, dx ∈ [−r, r]``, ``r = k // 2``; taps are numbered row-major, ``tap = (dy + r) · k + (dx + r)``.
``indices[i, tap]`` is the input row of that position or ``-1`` when no input point sits there.

Lookup uses sorted int64 keys and ``searchsorted``: memory is O(N · k²) for the map itself, never O(H · W),
so grids can be arbitrarily large. A map built once is shared by every layer on the same coordinate sets.
"""

from __future__ import annotations

import dataclasses

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


def build_neighbours(
    inputs: CoordinateBatch,
    outputs: CoordinateBatch | None = None,
    kernel_size: int = 7,
    dilation: int = 1,
    stride: int = 1,
    chunk_points: int = 1 << 18,
) -> NeighbourMap:
    """The neighbour map from ``inputs`` to ``outputs`` (default: the same set).

    With ``stride`` > 1 the outputs live on the coarser grid (e.g. :func:`infd_sparse.coords.downsample`).
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
    height, width = inputs.grid
    keys = inputs.keys()
    sorted_keys, order = torch.sort(keys)
    offsets = tap_offsets(kernel_size, inputs.device) * dilation
    num_out, taps = outputs.num_points, kernel_size * kernel_size
    if inputs.num_points >= 2**31:
        raise SparseInputError(f"at most 2**31 - 1 input points per map, got {inputs.num_points}")
    indices = torch.empty(num_out, taps, dtype=torch.int32, device=inputs.device)
    for start in range(0, num_out, chunk_points):
        coords = outputs.coords[start : start + chunk_points] * stride
        batch = outputs.batch[start : start + chunk_points]
        pos = coords[:, None, :] + offsets[None, :, :]  # [n, taps, 2]
        inside = (pos[..., 0] >= 0) & (pos[..., 0] < height) & (pos[..., 1] >= 0) & (pos[..., 1] < width)
        query = (batch[:, None] * height + pos[..., 0]) * width + pos[..., 1]
        where = torch.searchsorted(sorted_keys, query).clamp_(max=max(len(sorted_keys) - 1, 0))
        if len(sorted_keys):
            found = inside & (sorted_keys[where] == query)
            indices[start : start + len(coords)] = torch.where(found, order[where], -1).to(torch.int32)
        else:
            indices[start : start + len(coords)] = -1
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
