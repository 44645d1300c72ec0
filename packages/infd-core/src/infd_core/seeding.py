"""Deterministic generators derived from (seed, index...), independent of order and rank count.

A tile, a sample or a rank gets its own generator from ``derive_generator(seed, "tile", i, j)``, so the
random numbers it draws depend only on its identity, never on which process draws them or when.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

import torch

_SEED_BITS = 63


def derive_seed(seed: int, *index: int | str) -> int:
    """A 63-bit seed that depends only on ``seed`` and the index path (a stable hash)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    for i in index:
        if isinstance(i, bool) or not isinstance(i, (int, str)):
            raise TypeError(f"index parts must be int or str, got {type(i).__name__}")
    parts = [str(seed), *(f"{type(i).__name__}:{i}" for i in index)]
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> (64 - _SEED_BITS)


def derive_generator(seed: int, *index: int | str, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` on ``device`` seeded with :func:`derive_seed`."""
    generator = torch.Generator(device=device)
    generator.manual_seed(derive_seed(seed, *index))
    return generator


def rank_generator(seed: int, rank: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of one distributed rank (data order, dropout); not for tile contents."""
    return derive_generator(seed, "rank", rank, device=device)


def tile_generator(
    seed: int, tile_index: tuple[int, ...] | int, device: torch.device | str = "cpu"
) -> torch.Generator:
    """The generator of one output tile, whoever renders it."""
    index = (tile_index,) if isinstance(tile_index, int) else tuple(tile_index)
    return derive_generator(seed, "tile", *index, device=device)


@contextlib.contextmanager
def seeded_global_rng(seed: int, *index: int | str, device: torch.device | str = "cpu") -> Iterator[None]:
    """Inside the block, torch's global generator (CPU, and ``device`` if CUDA) is seeded from
    ``(seed, index...)``; outside it is left untouched. For code that cannot take a generator:
    ``nn.Module`` initialisation, dropout."""
    device = torch.device(device)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.manual_seed(derive_seed(seed, *index))
        yield
