"""Choosing a sparse backend: by name, or ``auto`` through the first-result hook."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Protocol

import torch

from infd_core.plugins import get_plugin_manager
from infd_sparse.errors import SparseInputError
from infd_sparse.neighbours import NeighbourMap

logger = logging.getLogger(__name__)


class SparseBackend(Protocol):
    """What a backend registered under ``infd_sparse_backends`` builds.

    A backend may also define ``neighbour_lookup(inputs) -> NeighbourLookup``; ``build_neighbours`` then
    uses it instead of the sorted-key lookup (see :mod:`infd_sparse.neighbours`).
    """

    name: str

    def supports(self, device: torch.device, dtype: torch.dtype) -> bool: ...

    def depthwise_conv(
        self, values: torch.Tensor, neighbours: NeighbourMap, weight: torch.Tensor, normalise: bool
    ) -> torch.Tensor: ...


@lru_cache(maxsize=32)
def _build(name: str) -> SparseBackend:
    return get_plugin_manager().registry().get("sparse_backends", name).build({})


def choose_backend_name(device: torch.device, dtype: torch.dtype) -> str:
    """What the ``infd_choose_sparse_backend`` hooks answer for this device and dtype."""
    dtype_name = str(dtype).removeprefix("torch.")
    answer = get_plugin_manager().hook.infd_choose_sparse_backend(device=device.type, dtype=dtype_name)
    return answer or "torch"


def get_backend(name: str, device: torch.device, dtype: torch.dtype) -> SparseBackend:
    """The backend called ``name`` (or the hooks' choice for ``auto``), checked against device and dtype."""
    chosen = choose_backend_name(device, dtype) if name == "auto" else name
    backend = _build(chosen)
    if not backend.supports(device, dtype):
        if name == "auto":
            logger.warning("sparse backend %r cannot run %s on %s; using torch", chosen, dtype, device)
            return _build("torch")
        raise SparseInputError(f"sparse backend {chosen!r} does not support {dtype} tensors on {device}")
    return backend
