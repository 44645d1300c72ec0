"""The Triton backend: fused gather–multiply–accumulate kernels for CUDA (fp32, bf16, fp16).

On CPU it runs only under Triton's interpreter (``TRITON_INTERPRET=1``), which is how CI tests it.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import torch
from pydantic import Field

from infd_core.config import StrictModel
from infd_sparse.neighbours import NeighbourMap

SUPPORTED_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


class TritonBackendConfig(StrictModel):
    """Block sizes of the Triton kernels (powers of two)."""

    block_points: int = Field(64, ge=16, le=1024, description="output points per program")
    block_channels: int = Field(64, ge=16, le=256, description="channels per program (capped at C)")


def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def interpreter_enabled() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def _pow2(value: int) -> int:
    return 1 << max(0, (value - 1).bit_length())


class _TritonConv(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        values: torch.Tensor,
        weight: torch.Tensor,
        indices: torch.Tensor,
        scale: torch.Tensor | None,
        symmetric: bool,
        blocks: tuple[int, int],
    ) -> torch.Tensor:
        out = torch.empty(indices.shape[0], values.shape[1], dtype=values.dtype, device=values.device)
        _launch_gather(values, indices, weight, scale, out, blocks)
        ctx.save_for_backward(values, weight, indices, scale)
        ctx.symmetric, ctx.blocks = symmetric, blocks
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        from infd_sparse.backends import triton_kernels as k

        values, weight, indices, scale = ctx.saved_tensors
        grad = grad_out.float() * scale[:, None] if scale is not None else grad_out.float()
        grad = grad.contiguous()
        num_out, channels, taps = indices.shape[0], values.shape[1], indices.shape[1]
        block_n, block_c = ctx.blocks
        grid = (triton_cdiv(num_out, block_n), triton_cdiv(channels, block_c))
        grad_values = grad_weight = None
        if ctx.needs_input_grad[1]:
            grad_weight = torch.zeros(channels, taps, dtype=torch.float32, device=values.device)
            k.weight_grad_kernel[grid](
                values, indices, grad, grad_weight, num_out, channels,
                TAPS=taps, BLOCK_N=block_n, BLOCK_C=block_c,
            )  # fmt: skip
            grad_weight = grad_weight.to(weight.dtype)
        if ctx.needs_input_grad[0]:
            if ctx.symmetric:  # the transposed map is the map with mirrored taps: gather, no atomics
                accum = torch.empty(values.shape[0], channels, dtype=torch.float32, device=values.device)
                mirrored = weight.flip(1).contiguous()
                _launch_gather(grad, indices, mirrored, None, accum, ctx.blocks)
            else:
                accum = torch.zeros(values.shape[0], channels, dtype=torch.float32, device=values.device)
                k.scatter_grad_kernel[grid](
                    indices, weight, grad, accum, num_out, channels,
                    TAPS=taps, BLOCK_N=block_n, BLOCK_C=block_c,
                )  # fmt: skip
            grad_values = accum.to(values.dtype)
        return grad_values, grad_weight, None, None, None, None


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _launch_gather(
    values: torch.Tensor,
    indices: torch.Tensor,
    weight: torch.Tensor,
    scale: torch.Tensor | None,
    out: torch.Tensor,
    blocks: tuple[int, int],
) -> None:
    from infd_sparse.backends import triton_kernels as k

    num_out, taps = indices.shape
    channels = values.shape[1]
    block_n, block_c = blocks
    grid = (triton_cdiv(num_out, block_n), triton_cdiv(channels, block_c))
    if num_out == 0:
        return
    k.gather_conv_kernel[grid](
        values, indices, weight, scale if scale is not None else out, out, num_out, channels,
        TAPS=taps, HAS_SCALE=scale is not None, BLOCK_N=block_n, BLOCK_C=block_c,
    )  # fmt: skip


class TritonBackend:
    """Fused Triton kernels; CUDA tensors, or CPU tensors under the Triton interpreter."""

    name = "triton"

    def __init__(self, config: TritonBackendConfig | None = None) -> None:
        self.config = config or TritonBackendConfig()

    def supports(self, device: torch.device, dtype: torch.dtype) -> bool:
        if dtype not in SUPPORTED_DTYPES or not triton_available():
            return False
        return device.type == "cuda" or (device.type == "cpu" and interpreter_enabled())

    def depthwise_conv(
        self,
        values: torch.Tensor,
        neighbours: NeighbourMap,
        weight: torch.Tensor,
        normalise: bool,
    ) -> torch.Tensor:
        """``weight`` is ``[C, k²]``; returns ``[N_out, C]`` (bias is added by the caller)."""
        channels = values.shape[1]
        blocks = (_pow2(self.config.block_points), min(_pow2(self.config.block_channels), _pow2(channels)))
        blocks = (blocks[0], max(blocks[1], 16))
        scale = 1.0 / neighbours.counts.clamp(min=1).float() if normalise else None
        return _TritonConv.apply(
            values.contiguous(),
            weight.contiguous(),
            neighbours.indices.contiguous(),
            scale,
            neighbours.symmetric,
            blocks,
        )
