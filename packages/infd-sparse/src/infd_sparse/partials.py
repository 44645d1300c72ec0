"""Per-tile results of a reduction shared among ranks, so every rank sums them in tile order.

A result is a tensor, a tuple or list of results, or a dataclass whose fields are results (e.g.
:class:`~infd_sparse.nearest.NearestValues`). Each rank holds the results of its own tiles; one
``all_reduce`` of a buffer in which every tile's slot is filled by exactly one rank (zeros elsewhere,
and ``x + 0 = x`` exactly) gives every rank all of them, bit for bit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from infd_sparse.errors import SparseInputError


def flatten(result: Any) -> tuple[list[torch.Tensor], Callable[[list[torch.Tensor]], Any]]:
    """The tensors of a result and a function that rebuilds a result of the same structure from tensors."""
    if isinstance(result, torch.Tensor):
        return [result], lambda tensors: tensors[0]
    if isinstance(result, (tuple, list)) or dataclasses.is_dataclass(result):
        parts = (
            [getattr(result, f.name) for f in dataclasses.fields(result)]
            if dataclasses.is_dataclass(result)
            else list(result)
        )
        flat = [flatten(p) for p in parts]
        sizes = [len(tensors) for tensors, _ in flat]

        def rebuild(tensors: list[torch.Tensor]) -> Any:
            items, start = [], 0
            for (_, build), size in zip(flat, sizes, strict=True):
                items.append(build(tensors[start : start + size]))
                start += size
            if dataclasses.is_dataclass(result):
                return type(result)(*items)
            return type(result)(items)

        return [t for tensors, _ in flat for t in tensors], rebuild
    raise SparseInputError(
        f"a reduction must return tensors, tuples, lists or dataclasses, got {type(result)}"
    )


def gather_tile_results(results: dict[int, Any], num_tiles: int, world: int, collective: Any) -> list[Any]:
    """Every tile's result, in tile order, on every rank (``results``: this rank's tiles by index)."""
    if world == 1:
        return [results[i] for i in range(num_tiles)]
    if not results:
        raise SparseInputError(
            f"{world} ranks share {num_tiles} tiles: every rank needs one; use fewer ranks"
        )
    tensors, rebuild = flatten(next(iter(results.values())))
    gathered: list[list[torch.Tensor]] = []
    for position, template in enumerate(tensors):
        buffer = template.new_zeros((num_tiles, *template.shape))
        for index, result in results.items():
            buffer[index] = flatten(result)[0][position]
        collective.all_reduce(buffer)
        gathered.append(list(buffer))
    return [rebuild([column[i] for column in gathered]) for i in range(num_tiles)]
