"""The mollifier's Fourier filters (T, its Wiener inverse) on planes stored out of core.

:meth:`GaussianMollifier._fourier_filter` transforms each (symmetrically extended) plane at once. Here
the same transform is split along its axes, so only bands of rows or columns are in memory: a real FFT
of every row band (extended along x), then per band of frequency columns an FFT along y of the extended
column, the multiplier, the inverse FFT along y, and finally the inverse real FFT of every row band.
Row-transformed planes wait in a scratch array ``[H, W/2 + 1, 2]`` (float64 real and imaginary parts);
``source`` and ``target`` are array-likes ``[B, C, H, W]`` (zarr arrays, numpy arrays), sliced one plane
and band at a time. The result equals the in-memory filter up to float rounding (tested to 1e-12).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from infd_core.memory import release_freed_memory
from infd_measures.errors import ParameterError

#: scratch chunks: square blocks, so that row bands and column bands both read each block once
SCRATCH_CHUNK = 512
#: bytes per complex entry of a band in flight: the band, its extension, the transform, the gain and the
#: filter's temporaries, the product and its inverse (about a dozen complex128 copies, measured)
_BAND_BYTES_PER_ENTRY = 16 * 12

Allocate = Callable[[str, tuple[int, ...], tuple[int, ...]], Any]


def _extended(x: torch.Tensor, axis: int, reflect: bool) -> torch.Tensor:
    return torch.cat([x, x.flip(axis)], dim=axis) if reflect else x


def fourier_filter_streamed(
    mollifier: Any,
    source: Any,
    target: Any,
    response: Callable[[torch.Tensor], torch.Tensor],
    allocate: Allocate,
    memory_budget: int,
    planes: list[tuple[int, int]] | None = None,
    scratch_name: str = "fourier-rows",
) -> None:
    """``target[b, c] = filter(source[b, c])`` for every plane (or those of ``planes``) of ``[B, C, H, W]``.

    ``response(gain)`` maps the float64 Fourier multiplier of T to the filter's (``g`` for T itself,
    ``g / (g² + ε²)`` for the Wiener inverse). ``allocate(scratch_name, shape, chunks)`` makes the scratch
    array (processes that share the planes need one name each).
    """
    if mollifier.ndim != 2 or len(source.shape) != 4:
        raise ParameterError("the streamed filter acts on [B, C, H, W] arrays of 2-D planes")
    batch, channels, height, width = (int(s) for s in source.shape)
    reflect = mollifier.boundary == "reflect"
    gain_y, gain_x = mollifier.multiplier(height), mollifier.multiplier(width)
    half = gain_x.shape[0] // 2 + 1
    chunk = min(SCRATCH_CHUNK, height, half)
    scratch = allocate(scratch_name, (height, half, 2), (chunk, chunk, 2))
    rows = _band(memory_budget, 2 * width, chunk, height)
    cols = _band(memory_budget, 2 * height, chunk, half)
    for b, c in planes if planes is not None else [(b, c) for b in range(batch) for c in range(channels)]:
        for top in range(0, height, rows):  # real FFT of each row, extended along x
            band = torch.from_numpy(np.asarray(source[b, c, top : top + rows], dtype=np.float64))
            spectrum = torch.fft.rfft(_extended(band, -1, reflect), dim=-1)
            scratch[top : top + rows] = torch.view_as_real(spectrum).numpy()
            release_freed_memory()
        for left in range(0, half, cols):  # along y: extend, transform, filter, transform back
            block = torch.view_as_complex(
                torch.from_numpy(np.ascontiguousarray(scratch[:, left : left + cols]))
            )
            spectrum = torch.fft.fft(_extended(block, 0, reflect), dim=0)
            gain = gain_y[:, None] * gain_x[None, left : left + block.shape[1]]
            filtered = torch.fft.ifft(spectrum * response(gain), dim=0)[:height]
            scratch[:, left : left + cols] = torch.view_as_real(filtered.contiguous()).numpy()
            release_freed_memory()
        for top in range(0, height, rows):  # inverse real FFT of each row band
            block = torch.view_as_complex(torch.from_numpy(np.ascontiguousarray(scratch[top : top + rows])))
            plane = torch.fft.irfft(block, n=gain_x.shape[0], dim=-1)[:, :width]
            target[b, c, top : top + rows] = plane.to(torch.float32).numpy()
            release_freed_memory()


def _band(memory_budget: int, length: int, chunk: int, limit: int) -> int:
    """Rows (or columns) of ``length`` complex entries per band: a multiple of ``chunk`` within budget."""
    fits = max(1, memory_budget // (length * _BAND_BYTES_PER_ENTRY))
    return min(limit, max(chunk, fits // chunk * chunk)) if fits >= chunk else max(1, min(fits, limit))


def streamed_plane_bytes(height: int, width: int) -> int:
    """Disk the scratch array of one plane takes (float64 complex, half spectrum)."""
    return height * (width + 1) * 16


__all__ = ["fourier_filter_streamed", "streamed_plane_bytes"]
