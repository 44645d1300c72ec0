"""infd hooks of infd-torchsparse. Kept light: nothing here imports torch or torchsparse at load time."""

from __future__ import annotations

import logging
from functools import lru_cache

from infd_core import ComponentSpec, hookimpl

logger = logging.getLogger(__name__)


@hookimpl
def infd_sparse_backends() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="torchsparse",
            factory="infd_torchsparse.backend:TorchsparseBackend",
            config="infd_torchsparse.backend:TorchsparseBackendConfig",
            description="neighbour maps from torchsparse's coordinate hash table; infd kernels convolve",
        )
    ]


@hookimpl
def infd_choose_sparse_backend(device: str, dtype: str) -> str | None:
    """Answer first on CUDA when torchsparse imports; otherwise let infd-sparse decide."""
    return "torchsparse" if device == "cuda" and torchsparse_works() else None


@lru_cache(maxsize=1)
def torchsparse_works() -> bool:
    """Whether torchsparse imports with the functions this adapter needs (a broken build is skipped)."""
    from infd_torchsparse.hashing import TorchsparseUnavailableError, load_torchsparse

    try:
        load_torchsparse()
    except TorchsparseUnavailableError as error:
        logger.warning("not using torchsparse: %s", error)
        return False
    return True
