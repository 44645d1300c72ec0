"""Random draws from an explicit generator onto any device.

torch fills a tensor only on its generator's own device: a CPU generator cannot draw a CUDA tensor.
These helpers draw where the generator lives and move the result to ``device``, so a CPU generator
gives the same numbers whether the run's tensors are on the CPU or a GPU, and a GPU generator can fill
CPU tensors. Without a generator they draw from torch's global generator on ``device``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

Device = torch.device | str | None


def _draw(
    fill: Callable[..., torch.Tensor], generator: torch.Generator | None, device: Device, **kwargs: Any
) -> torch.Tensor:
    """``fill(..., device=<the generator's>)``, then moved to ``device`` (default: the CPU)."""
    source = generator.device if generator is not None else device
    draw = fill(generator=generator, device=source, **kwargs)
    return draw.to(device) if device is not None else draw.cpu()


def randn(
    shape: Sequence[int],
    generator: torch.Generator | None,
    *,
    dtype: torch.dtype | None = None,
    device: Device = None,
) -> torch.Tensor:
    """N(0, 1) of ``shape`` from ``generator``, on ``device`` (default: the CPU)."""
    return _draw(torch.randn, generator, device, size=tuple(shape), dtype=dtype)


def rand(
    shape: Sequence[int],
    generator: torch.Generator | None,
    *,
    dtype: torch.dtype | None = None,
    device: Device = None,
) -> torch.Tensor:
    """U[0, 1) of ``shape`` from ``generator``, on ``device`` (default: the CPU)."""
    return _draw(torch.rand, generator, device, size=tuple(shape), dtype=dtype)


def randint(
    low: int, high: int, shape: Sequence[int], generator: torch.Generator | None, *, device: Device = None
) -> torch.Tensor:
    """Integers in ``[low, high)`` (int64) of ``shape`` from ``generator``, on ``device`` (default: CPU)."""
    return _draw(torch.randint, generator, device, low=low, high=high, size=tuple(shape))


__all__ = ["rand", "randint", "randn"]
