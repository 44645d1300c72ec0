"""Every backend against a dense masked conv2d on the full grid: values and gradients."""

from __future__ import annotations

import pytest
import torch
from dense_reference import TRITON_DEVICE, dense_masked_conv, ragged_points

from infd_sparse import CoordinateBatch, build_neighbours, depthwise_conv, downsample
from infd_sparse.backends.triton_backend import triton_available

BACKENDS = [
    "torch",
    pytest.param("triton", marks=pytest.mark.skipif(not triton_available(), reason="triton not installed")),
]
CASES = {
    # name: (grid, kernel, dilation, stride, separate output set)
    "k7-same-set": ((13, 11), 7, 1, 1, False),
    "k3-dilated": ((12, 9), 3, 2, 1, False),
    "k5-stride2": ((14, 10), 5, 1, 2, False),
    "k5-other-set-empty-windows": ((15, 12), 5, 1, 1, True),
}


def _setup(case: str, channels: int, dtype: torch.dtype, seed: int = 0):
    grid, k, dilation, stride, separate = CASES[case]
    g = torch.Generator().manual_seed(seed)
    inputs = ragged_points(3, grid, g)
    if stride > 1:
        outputs = downsample(inputs, stride)
    elif separate:  # a sparse output set: many windows hold no input point at all
        masks = torch.rand(3, *grid, generator=g) < 0.3
        inputs = CoordinateBatch.from_masks(torch.rand(3, *grid, generator=g) < 0.03)
        outputs = CoordinateBatch.from_masks(masks)
    else:
        outputs = None
    nbrs = build_neighbours(inputs, outputs, kernel_size=k, dilation=dilation, stride=stride)
    values = torch.randn(inputs.num_points, channels, generator=g, dtype=torch.float64).to(dtype)
    weight = torch.randn(channels, k, k, generator=g, dtype=torch.float64).to(dtype)
    bias = torch.randn(channels, generator=g, dtype=torch.float64).to(dtype)
    return inputs, outputs or inputs, nbrs, values, weight, bias, dilation, stride


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("normalise", [True, False])
def test_forward_and_gradients_match_dense(backend, case, normalise):
    dtype = torch.float64 if backend == "torch" else torch.float32
    tol = 1e-10 if dtype == torch.float64 else 2e-5
    inputs, outputs, nbrs, values, weight, bias, dilation, stride = _setup(case, 5, dtype)
    if "empty" in case:
        assert (nbrs.counts == 0).any()  # the case really has empty windows
    device = TRITON_DEVICE if backend == "triton" else "cpu"
    v1, w1, b1 = (t.clone().to(device).requires_grad_() for t in (values, weight, bias))
    v2, w2, b2 = (t.clone().double().requires_grad_() for t in (values, weight, bias))
    ours = depthwise_conv(v1, nbrs.to(device), w1, b1, normalise=normalise, backend=backend)
    ref = dense_masked_conv(v2, inputs, outputs, w2, b2, normalise, dilation, stride)
    torch.testing.assert_close(ours.double().cpu(), ref, atol=tol, rtol=tol)
    upstream = torch.randn(ref.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (ours * upstream.to(device, dtype)).sum().backward()
    (ref * upstream).sum().backward()
    for mine, theirs in ((v1, v2), (w1, w2), (b1, b2)):
        torch.testing.assert_close(mine.grad.double().cpu(), theirs.grad, atol=tol * 10, rtol=tol * 10)


@pytest.mark.parametrize("case", list(CASES))
def test_gradcheck_fp64_torch(case):
    _, _, nbrs, values, weight, _, _, _ = _setup(case, 2, torch.float64, seed=3)
    values.requires_grad_()
    weight.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda v, w: depthwise_conv(v, nbrs, w, backend="torch"), (values, weight), eps=1e-6, atol=1e-7
    )


@pytest.mark.skipif(not triton_available(), reason="triton not installed")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_triton_low_precision_close_to_fp32(dtype):
    _, _, nbrs, values, weight, bias, _, _ = _setup("k7-same-set", 8, torch.float32)
    ref = depthwise_conv(values, nbrs, weight, bias, backend="torch")
    low_values, low_weight, low_bias = (t.to(TRITON_DEVICE, dtype) for t in (values, weight, bias))
    low = depthwise_conv(low_values, nbrs.to(TRITON_DEVICE), low_weight, low_bias, backend="triton")
    assert low.dtype == dtype
    torch.testing.assert_close(low.float().cpu(), ref, atol=5e-2, rtol=2e-2)


def test_full_sampling_equals_plain_dense_conv_over_window_count():
    g = torch.Generator().manual_seed(4)
    points = CoordinateBatch.full(2, (9, 8))
    values = torch.randn(points.num_points, 3, generator=g, dtype=torch.float64)
    weight = torch.randn(3, 3, 3, generator=g, dtype=torch.float64)
    ours = depthwise_conv(values, build_neighbours(points, kernel_size=3), weight, normalise=False)
    image = values.view(2, 9, 8, 3).permute(0, 3, 1, 2)
    dense = torch.nn.functional.conv2d(image, weight[:, None], padding=1, groups=3)
    torch.testing.assert_close(ours, dense.permute(0, 2, 3, 1).reshape(-1, 3))
