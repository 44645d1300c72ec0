"""Triton kernels of the sparse depthwise convolution (imported only when triton is installed).

Each program owns a block of ``BLOCK_N`` output points × ``BLOCK_C`` channels and loops over the k² taps:
load the neighbour index, gather the input row, multiply by the tap weight, accumulate in fp32. Nothing
of size ``[N, k², C]`` is ever materialised.

Backward: the weight gradient reduces ``x[nbr] · g`` over points with one fp32 atomic add per (tap,
channel) and program; the value gradient reuses the forward kernel with mirrored taps when the map is
symmetric (same set, stride 1), and scatters with fp32 atomics otherwise.

On CPU the kernels run in Triton's interpreter when ``TRITON_INTERPRET=1`` is set before import.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def gather_conv_kernel(
    values_ptr,
    indices_ptr,
    weight_ptr,
    scale_ptr,
    out_ptr,
    num_out,
    channels,
    TAPS: tl.constexpr,
    HAS_SCALE: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    """out[i, c] = scale[i] · Σ_t weight[c, t] · values[indices[i, t], c]."""
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    row_mask = rows < num_out
    col_mask = cols < channels
    acc = tl.zeros((BLOCK_N, BLOCK_C), dtype=tl.float32)
    for tap in range(TAPS):
        idx = tl.load(indices_ptr + rows.to(tl.int64) * TAPS + tap, mask=row_mask, other=-1)
        valid = idx >= 0
        offsets = idx.to(tl.int64)[:, None] * channels + cols[None, :]
        x = tl.load(values_ptr + offsets, mask=valid[:, None] & col_mask[None, :], other=0.0)
        w = tl.load(weight_ptr + cols * TAPS + tap, mask=col_mask, other=0.0)
        acc += x.to(tl.float32) * w.to(tl.float32)[None, :]
    if HAS_SCALE:
        acc = acc * tl.load(scale_ptr + rows, mask=row_mask, other=0.0)[:, None]
    out_offsets = rows.to(tl.int64)[:, None] * channels + cols[None, :]
    tl.store(
        out_ptr + out_offsets, acc.to(out_ptr.dtype.element_ty), mask=row_mask[:, None] & col_mask[None, :]
    )


@triton.jit
def weight_grad_kernel(
    values_ptr,
    indices_ptr,
    grad_ptr,
    grad_weight_ptr,
    num_out,
    channels,
    TAPS: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    """grad_weight[c, t] += Σ_i values[indices[i, t], c] · grad[i, c] over this program's points."""
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    row_mask = rows < num_out
    col_mask = cols < channels
    mask = row_mask[:, None] & col_mask[None, :]
    g = tl.load(grad_ptr + rows.to(tl.int64)[:, None] * channels + cols[None, :], mask=mask, other=0.0)
    g = g.to(tl.float32)
    for tap in range(TAPS):
        idx = tl.load(indices_ptr + rows.to(tl.int64) * TAPS + tap, mask=row_mask, other=-1)
        valid = idx >= 0
        offsets = idx.to(tl.int64)[:, None] * channels + cols[None, :]
        x = tl.load(values_ptr + offsets, mask=valid[:, None] & col_mask[None, :], other=0.0)
        partial = tl.sum(x.to(tl.float32) * g, axis=0)
        tl.atomic_add(grad_weight_ptr + cols * TAPS + tap, partial, mask=col_mask)


@triton.jit
def scatter_grad_kernel(
    indices_ptr,
    weight_ptr,
    grad_ptr,
    grad_values_ptr,
    num_out,
    channels,
    TAPS: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    """grad_values[indices[i, t], c] += weight[c, t] · grad[i, c] (fp32 atomics)."""
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    row_mask = rows < num_out
    col_mask = cols < channels
    mask = row_mask[:, None] & col_mask[None, :]
    g = tl.load(grad_ptr + rows.to(tl.int64)[:, None] * channels + cols[None, :], mask=mask, other=0.0)
    g = g.to(tl.float32)
    for tap in range(TAPS):
        idx = tl.load(indices_ptr + rows.to(tl.int64) * TAPS + tap, mask=row_mask, other=-1)
        valid = idx >= 0
        w = tl.load(weight_ptr + cols * TAPS + tap, mask=col_mask, other=0.0).to(tl.float32)
        offsets = idx.to(tl.int64)[:, None] * channels + cols[None, :]
        tl.atomic_add(grad_values_ptr + offsets, g * w[None, :], mask=valid[:, None] & col_mask[None, :])
