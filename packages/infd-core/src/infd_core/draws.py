"""Random draws from an explicit generator onto any device.

torch fills a tensor only on its generator's own device: a CPU generator cannot draw a CUDA tensor.
These helpers draw where the generator lives and move the result to ``device``, so a CPU generator
gives the same numbers whether the run's tensors are on the CPU or a GPU, and a GPU generator can fill
CPU tensors. Without a generator they draw from torch's global generator on ``device``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Device = torch.device | str | None


def _source(generator: torch.Generator | None, device: Device) -> torch.device | str | None:
    return generator.device if generator is not None else device


def randn(
    shape: Sequence[int],
    generator: torch.Generator | None,
    *,
    dtype: torch.dtype | None = None,
    device: Device = None,
) -> torch.Tensor:
    """N(0, 1) of ``shape`` from ``generator``, on ``device`` (default: the CPU)."""
    draw = torch.randn(tuple(shape), generator=generator, dtype=dtype, device=_source(generator, device))
    return draw.to(device) if device is not None else draw.cpu()


def rand(
    shape: Sequence[int],
    generator: torch.Generator | None,
    *,
    dtype: torch.dtype | None = None,
    device: Device = None,
) -> torch.Tensor:
    """U[0, 1) of ``shape`` from ``generator``, on ``device`` (default: the CPU)."""
    draw = torch.rand(tuple(shape), generator=generator, dtype=dtype, device=_source(generator, device))
    return draw.to(device) if device is not None else draw.cpu()


def randint(
    low: int, high: int, shape: Sequence[int], generator: torch.Generator | None, *, device: Device = None
) -> torch.Tensor:
    """Integers in ``[low, high)`` (int64) of ``shape`` from ``generator``, on ``device`` (default: CPU)."""
    draw = torch.randint(low, high, tuple(shape), generator=generator, device=_source(generator, device))
    return draw.to(device) if device is not None else draw.cpu()


__all__ = ["rand", "randint", "randn"]
