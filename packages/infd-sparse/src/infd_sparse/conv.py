"""The sparse depthwise convolution of ∞-Diff's sparse level (§4.3, App. A)."""

from __future__ import annotations

import torch

from infd_sparse.backends.select import get_backend
from infd_sparse.errors import SparseInputError
from infd_sparse.neighbours import NeighbourMap


def _check(
    values: torch.Tensor, neighbours: NeighbourMap, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    if values.dim() != 2:
        raise SparseInputError(f"values must have shape [N, C], got {list(values.shape)}")
    if not values.dtype.is_floating_point:
        raise SparseInputError(f"values must be floating point, got {values.dtype}")
    if values.shape[0] != neighbours.num_inputs:
        raise SparseInputError(
            f"values have {values.shape[0]} rows but the neighbour map expects {neighbours.num_inputs} inputs"
        )
    if values.device != neighbours.device:
        raise SparseInputError(f"values on {values.device} but neighbour map on {neighbours.device}")
    k = neighbours.kernel_size
    if weight.dim() == 4 and weight.shape[1] == 1:
        weight = weight[:, 0]
    if weight.dim() != 3 or weight.shape[1:] != (k, k):
        raise SparseInputError(f"weight must have shape [C, {k}, {k}], got {list(weight.shape)}")
    if weight.shape[0] != values.shape[1]:
        raise SparseInputError(f"weight has {weight.shape[0]} channels but values have {values.shape[1]}")
    if weight.device != values.device or not weight.dtype.is_floating_point:
        raise SparseInputError(
            f"weight must be a float tensor on {values.device}, got {weight.dtype} on {weight.device}"
        )
    if bias is not None and (bias.shape != (values.shape[1],) or bias.device != values.device):
        raise SparseInputError(f"bias must have shape [{values.shape[1]}] on {values.device}")
    return weight.reshape(weight.shape[0], k * k)


def depthwise_conv(
    values: torch.Tensor,
    neighbours: NeighbourMap,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    normalise: bool = True,
    backend: str = "auto",
) -> torch.Tensor:
    """Depthwise convolution of ``values [N_in, C]`` over a neighbour map, ``[N_out, C]`` out.

    ``out[i, c] = Σ_tap weight[c, tap] · values[nbr[i, tap], c] / n_i + bias[c]`` with ``n_i`` the number
    of input points in the window of ``i`` (``normalise``; empty windows give ``bias``). ``weight`` is
    ``[C, k, k]`` (or ``[C, 1, k, k]`` as for ``conv2d(groups=C)``). Differentiable in values, weight, bias.
    """
    flat = _check(values, neighbours, weight, bias)
    impl = get_backend(backend, values.device, values.dtype)
    out = impl.depthwise_conv(values, neighbours, flat, normalise)
    return out + bias.to(out.dtype) if bias is not None else out
