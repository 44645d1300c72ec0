"""Neighbour lookups through torchsparse's coordinate hash (``sphash``) and hash table (``sphashquery``).

Points become torchsparse coordinates ``int32 [N, 4] = (sample, row, column, 0)``; the same layout is used
for the inputs and for every query, so the coordinate order torchsparse itself prefers (batch first in
2.x, last in 1.x) does not matter. Differences between releases are absorbed here:

* ``sphashquery`` of a ``[n, taps]`` query returns ``[n, taps]`` (1.x, 2.0) or pads rows with −1 up to a
  multiple of 128 (2.1); only the first ``n`` rows are read;
* some builds hash on CUDA only; inputs stay on the device of the coordinates.

torchsparse hashes coordinates to 64 bits, so two different coordinates colliding is possible in principle
(odds about N²/2⁶⁴); the sorted-key lookup of infd-sparse (``backend="sorted"``) is exact.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import torch

from infd_sparse import CoordinateBatch, SparseInputError
from infd_sparse.neighbours import NeighbourLookup

INT32_LIMIT = 2**31 - 1


class TorchsparseUnavailableError(SparseInputError):
    """torchsparse cannot be imported, or lacks the functions this adapter needs."""


def load_torchsparse() -> ModuleType:
    """``torchsparse.nn.functional``, checked for ``sphash`` and ``sphashquery``."""
    try:
        functional = importlib.import_module("torchsparse.nn.functional")
    except Exception as error:  # a broken build raises anything from ImportError to OSError
        raise TorchsparseUnavailableError(
            f"torchsparse is not importable ({type(error).__name__}: {error}); it is not on PyPI — build it "
            "from source to use the 'torchsparse' backend, or choose 'auto', 'torch' or 'triton'"
        ) from error
    missing = [name for name in ("sphash", "sphashquery") if not hasattr(functional, name)]
    if missing:
        version = getattr(importlib.import_module("torchsparse"), "__version__", "unknown")
        raise TorchsparseUnavailableError(
            f"torchsparse {version} has no torchsparse.nn.functional.{' or '.join(missing)}"
        )
    return functional


def _as_torchsparse_coords(batch: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """``int32 [n, 4]`` rows ``(sample, row, column, 0)`` for ``batch [n]`` and ``positions [n, 2]``."""
    zeros = torch.zeros_like(batch)[:, None]
    return torch.cat([batch[:, None], positions, zeros], 1).to(torch.int32).contiguous()


def hash_lookup(inputs: CoordinateBatch, functional: ModuleType | None = None) -> NeighbourLookup:
    """A :data:`~infd_sparse.neighbours.NeighbourLookup` answered by torchsparse's hash table."""
    functional = functional or load_torchsparse()
    height, width = inputs.grid
    if max(height, width, inputs.batch_size) > INT32_LIMIT // 2:
        raise SparseInputError(
            f"torchsparse coordinates are int32: grid {inputs.grid} with {inputs.batch_size} samples "
            "is too large"
        )
    references = functional.sphash(_as_torchsparse_coords(inputs.batch, inputs.coords))

    def lookup(batch: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        rows, taps = positions.shape[:2]
        if inputs.num_points == 0 or rows == 0:
            return torch.full((rows, taps), -1, dtype=torch.int64, device=positions.device)
        # Out-of-grid positions are masked by the caller; clamping keeps them inside int32.
        limit = INT32_LIMIT // 2
        queries = _as_torchsparse_coords(
            batch.repeat_interleave(taps), positions.reshape(-1, 2).clamp(-limit, limit)
        )
        found = functional.sphashquery(functional.sphash(queries).view(rows, taps), references)
        if found.dim() != 2 or found.shape[0] < rows or found.shape[1] != taps:
            raise RuntimeError(
                f"torchsparse's sphashquery returned shape {list(found.shape)} for a [{rows}, {taps}] query; "
                "this torchsparse release is not supported by infd-torchsparse"
            )
        return found[:rows].to(torch.int64)

    return lookup
