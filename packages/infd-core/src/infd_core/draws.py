"""Random draws from an explicit generator onto any device.

torch fills a tensor only on its generator's own device: a CPU generator cannot draw a CUDA tensor.
These helpers draw where the generator lives and move the result to ``device``, so a CPU generator
gives the same numbers whether the run's tensors are on the CPU or a GPU, and a GPU generator can fill
CPU tensors. Without a generator they draw from torch's global generator on ``device``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
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


def randn_rows(
    shape: Sequence[int], generator: torch.Generator, rows: int
) -> Iterator[tuple[int, int, torch.Tensor]]:
    """``randn(shape, generator)`` of ``shape = (..., H, W)`` in bands of about ``rows`` rows.

    Yields ``(plane, top, band [r, W])``: planes count the leading axes flattened. The bands together are
    the same numbers as one draw of the whole shape (CPU generators fill normals in blocks of 16, so each
    band but the last holds a multiple of 16 values and the last at least 16), while memory holds one band.
    """
    if generator.device.type != "cpu":
        raise ValueError("banded draws equal whole draws only for CPU generators")
    *lead, height, width = (int(s) for s in shape)
    total = math.prod(lead) * height * width
    step = 16 // math.gcd(width, 16)  # rows whose values make a multiple of 16
    rows = max(step, rows // step * step)
    start = 0
    while start < total:
        count = min(rows * width, total - start)
        if 0 < total - start - count < 16:  # a short tail would be drawn differently: take it now
            count = total - start
        flat = torch.randn(count, generator=generator)
        offset = 0
        while offset < count:  # split at plane boundaries
            row = (start + offset) // width
            plane, top = divmod(row, height)
            take = min((height - top) * width, count - offset)
            yield plane, top, flat[offset : offset + take].view(-1, width)
            offset += take
        start += count


__all__ = ["rand", "randint", "randn", "randn_rows"]
