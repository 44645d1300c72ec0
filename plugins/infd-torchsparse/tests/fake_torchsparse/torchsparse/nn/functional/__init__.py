"""``sphash``: 64-bit FNV-1a of four int32 coordinates; ``sphashquery``: hash-table lookup, −1 if absent."""

from __future__ import annotations

import torch

import torchsparse

_FNV_OFFSET = 14695981039346656037 - 2**64  # as int64
_FNV_PRIME = 1099511628211


def sphash(coords: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
    assert coords.dtype == torch.int32, coords.dtype
    assert coords.ndim == 2 and coords.shape[1] == 4, coords.shape
    assert offsets is None, "kernel hashing is not used by infd-torchsparse"
    value = torch.full((coords.shape[0],), _FNV_OFFSET, dtype=torch.int64, device=coords.device)
    for column in range(4):
        value = (value ^ (coords[:, column].long() & 0xFFFFFFFF)) * _FNV_PRIME  # wraps like uint64
    return ((value >> 60) & 0xF) ^ (value & 0x0FFFFFFFFFFFFFFF)


def sphashquery(queries: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    assert queries.dtype == torch.int64 and references.dtype == torch.int64 and references.ndim == 1
    table, order = torch.sort(references)
    flat = queries.reshape(-1)
    where = torch.searchsorted(table, flat).clamp(max=len(table) - 1)
    found = torch.where(table[where] == flat, order[where], -1).view(queries.shape)
    major, minor = (int(part) for part in torchsparse.__version__.split(".")[:2])
    if (major, minor) >= (2, 1) and found.shape[0] % 128:
        padding = torch.full((128 - found.shape[0] % 128, found.shape[1]), -1, dtype=found.dtype)
        found = torch.cat([found, padding.to(found.device)])
    return found
