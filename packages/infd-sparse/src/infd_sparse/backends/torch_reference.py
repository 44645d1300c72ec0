"""The torch reference backend: chunked gather–multiply–accumulate, CPU and GPU.

Forward, for output point ``i`` and channel ``c``::

    out[i, c] = Σ_tap w[c, tap] · x[nbr[i, tap], c] / n_i + b[c]      (n_i = filled taps, ≥ 1)

Output points are processed in chunks so that the gathered ``[chunk, k², C]`` block never exceeds
``chunk_bytes``: extra memory is bounded whatever the batch size (a plain gather of 49 neighbours for
32 images of 256² at 4× subsampling would take 6.5 GB). The backward pass is chunked the same way.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from infd_core.config import StrictModel
from infd_sparse.neighbours import NeighbourMap


class TorchBackendConfig(StrictModel):
    """Memory budget of the reference backend's gathered blocks."""

    chunk_bytes: int = Field(64 * 2**20, ge=2**16, description="bytes per gathered [chunk, k², C] block")


def _chunk_rows(taps: int, channels: int, element_size: int, chunk_bytes: int) -> int:
    return max(1, chunk_bytes // max(1, taps * channels * element_size))


def _padded(values: torch.Tensor) -> torch.Tensor:
    """``values`` with one extra zero row, the target of empty taps."""
    return torch.cat([values, values.new_zeros(1, values.shape[1])])


def _rows(indices: torch.Tensor, num_inputs: int) -> torch.Tensor:
    """int64 row numbers into the padded values (empty taps point at the zero row)."""
    return torch.where(indices >= 0, indices, num_inputs).long()


def _gather(padded: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``[n, taps, C]`` values under each tap (zeros at empty taps)."""
    return padded.index_select(0, rows.reshape(-1)).view(rows.shape[0], rows.shape[1], -1)


def _scale(counts: torch.Tensor, dtype: torch.dtype, normalise: bool) -> torch.Tensor | None:
    return 1.0 / counts.clamp(min=1).to(dtype) if normalise else None


class _SparseDepthwiseConv(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        values: torch.Tensor,
        weight: torch.Tensor,
        indices: torch.Tensor,
        counts: torch.Tensor,
        normalise: bool,
        chunk_bytes: int,
        symmetric: bool,
    ) -> torch.Tensor:
        num_out, taps = indices.shape
        num_in, channels = values.shape
        out = values.new_empty(num_out, channels)
        step = _chunk_rows(taps, channels, values.element_size(), chunk_bytes)
        w = weight.t()  # [taps, C]
        scale = _scale(counts, values.dtype, normalise)
        padded = _padded(values)
        for start in range(0, num_out, step):
            rows = _rows(indices[start : start + step], num_in)
            block = (_gather(padded, rows) * w).sum(1)
            if scale is not None:
                block *= scale[start : start + step, None]
            out[start : start + step] = block
        ctx.save_for_backward(values, weight, indices, counts)
        ctx.normalise, ctx.chunk_bytes, ctx.symmetric = normalise, chunk_bytes, symmetric
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        values, weight, indices, counts = ctx.saved_tensors
        num_out, taps = indices.shape
        num_in, channels = values.shape
        need_values, need_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        mirrored = need_values and ctx.symmetric  # transposed map = map with mirrored taps: gather
        scatter = need_values and not ctx.symmetric
        grad_padded = values.new_zeros(num_in + 1, channels) if scatter else None
        grad_weight = values.new_zeros(taps, channels) if need_weight else None
        scale = _scale(counts, grad_out.dtype, ctx.normalise)
        w = weight.t()
        padded = _padded(values) if need_weight else None
        scaled = grad_out * scale[:, None] if scale is not None else grad_out
        padded_grad = _padded(scaled) if mirrored else None
        grad_values = values.new_empty(num_in, channels) if mirrored else None
        step = _chunk_rows(taps, channels, values.element_size(), ctx.chunk_bytes)
        for start in range(0, num_out, step):
            rows = _rows(indices[start : start + step], num_in)
            g = scaled[start : start + step]
            if grad_values is not None:  # symmetric: output rows are input rows
                grad_values[start : start + step] = (_gather(padded_grad, rows) * w.flip(0)).sum(1)
            if grad_weight is not None:
                grad_weight += (_gather(padded, rows) * g[:, None, :]).sum(0)
            if grad_padded is not None:  # empty taps land in the padding row, dropped below
                contrib = (g[:, None, :] * w).reshape(-1, channels)
                grad_padded.index_add_(0, rows.reshape(-1), contrib)
        if grad_padded is not None:
            grad_values = grad_padded[:num_in]
        grad_w = grad_weight.t().contiguous() if grad_weight is not None else None
        return grad_values, grad_w, None, None, None, None, None


class TorchBackend:
    """Chunked reference implementation (any float dtype, any device)."""

    name = "torch"

    def __init__(self, config: TorchBackendConfig | None = None) -> None:
        self.config = config or TorchBackendConfig()

    def supports(self, device: torch.device, dtype: torch.dtype) -> bool:
        return dtype.is_floating_point

    def depthwise_conv(
        self,
        values: torch.Tensor,
        neighbours: NeighbourMap,
        weight: torch.Tensor,
        normalise: bool,
    ) -> torch.Tensor:
        """``weight`` is ``[C, k²]``; returns ``[N_out, C]`` (bias is added by the caller)."""
        return _SparseDepthwiseConv.apply(
            values,
            weight.to(values.dtype),
            neighbours.indices,
            neighbours.counts,
            normalise,
            self.config.chunk_bytes,
            neighbours.symmetric,
        )
