"""On a CUDA device (``pytest -m gpu``): Triton and torch backends at ∞-Diff's sizes against cuDNN in fp64."""

from __future__ import annotations

import pytest
import torch
from dense_reference import dense_masked_conv

from infd_sparse import CoordinateBatch, build_neighbours, depthwise_conv
from infd_sparse.backends.triton_backend import triton_available

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
    pytest.mark.skipif(not triton_available(), reason="triton not installed"),
]
CHANNELS, KERNEL = 64, 7
TOLERANCE = {torch.float32: 1e-4, torch.bfloat16: 4e-2}


def _case(subsampling: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    points = CoordinateBatch.random(4, (64, 64), subsampling, generator=generator).to("cuda")
    values = torch.randn(points.num_points, CHANNELS, generator=generator, dtype=torch.float64).cuda()
    weight = torch.randn(CHANNELS, KERNEL, KERNEL, generator=generator, dtype=torch.float64).cuda() / KERNEL
    return points, build_neighbours(points, kernel_size=KERNEL), values, weight


@pytest.mark.parametrize("backend", ["triton", "torch"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("subsampling", [1, 4])
def test_cuda_backends_match_dense_fp64(backend: str, dtype: torch.dtype, subsampling: int) -> None:
    points, nbrs, values, weight = _case(subsampling)
    ours_values = values.to(dtype).requires_grad_()
    ours_weight = weight.to(dtype).requires_grad_()
    ours = depthwise_conv(ours_values, nbrs, ours_weight, backend=backend)
    ref_values, ref_weight = values.clone().requires_grad_(), weight.clone().requires_grad_()
    ref = dense_masked_conv(ref_values, points, points, ref_weight)
    tol = TOLERANCE[dtype]
    scale = ref.abs().max()
    torch.testing.assert_close(ours.double() / scale, ref / scale, atol=tol, rtol=tol)
    upstream = torch.randn(ref.shape, generator=torch.Generator("cuda").manual_seed(1), device="cuda")
    (ours.float() * upstream).sum().backward()
    (ref * upstream.double()).sum().backward()
    for mine, theirs in ((ours_values, ref_values), (ours_weight, ref_weight)):
        scale = theirs.grad.abs().max()
        torch.testing.assert_close(mine.grad.double() / scale, theirs.grad / scale, atol=tol, rtol=tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_triton_forward_allocates_little_beyond_its_output(dtype: torch.dtype) -> None:
    _, nbrs, values, weight = _case(4, seed=2)
    values, weight = values.to(dtype), weight.to(dtype)
    depthwise_conv(values, nbrs, weight, backend="triton")  # compile first
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    out = depthwise_conv(values, nbrs, weight, backend="triton")
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - before
    output_bytes = out.numel() * out.element_size()
    assert extra <= 1.2 * output_bytes + 2**20, (extra, output_bytes)
