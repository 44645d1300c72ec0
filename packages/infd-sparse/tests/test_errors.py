"""Bad input raises clear errors."""

from __future__ import annotations

import pytest
import torch

from infd_sparse import CoordinateBatch, SparseInputError, build_neighbours, depthwise_conv, resize_kernel


def _points():
    return CoordinateBatch.full(1, (4, 4))


def test_coordinates_out_of_grid():
    with pytest.raises(SparseInputError, match="outside the 4x4 grid"):
        CoordinateBatch(torch.tensor([[0, 0], [4, 1]]), torch.zeros(2, dtype=torch.int64), (4, 4), 1)
    with pytest.raises(SparseInputError, match="outside"):
        CoordinateBatch(torch.tensor([[-1, 0]]), torch.zeros(1, dtype=torch.int64), (4, 4), 1)


def test_duplicate_coordinates():
    with pytest.raises(SparseInputError, match="duplicate coordinates"):
        CoordinateBatch(torch.tensor([[1, 1], [1, 1]]), torch.zeros(2, dtype=torch.int64), (4, 4), 1)


def test_shapes_and_order():
    with pytest.raises(SparseInputError, match=r"shape \[N, 2\]"):
        CoordinateBatch(torch.zeros(3, 3, dtype=torch.int64), torch.zeros(3, dtype=torch.int64), (4, 4), 1)
    with pytest.raises(SparseInputError, match="int64"):
        CoordinateBatch(torch.zeros(1, 2), torch.zeros(1, dtype=torch.int64), (4, 4), 1)
    with pytest.raises(SparseInputError, match="grouped by sample"):
        CoordinateBatch(torch.tensor([[0, 0], [0, 1]]), torch.tensor([1, 0]), (4, 4), 2)


@pytest.mark.parametrize("k", [4, 0, -3])
def test_even_or_bad_kernel_size(k):
    with pytest.raises(SparseInputError, match="positive odd integer"):
        build_neighbours(_points(), kernel_size=k)


def test_mismatched_channels_and_kernel_shape():
    nbrs = build_neighbours(_points(), kernel_size=3)
    with pytest.raises(SparseInputError, match="weight has 4 channels but values have 3"):
        depthwise_conv(torch.randn(16, 3), nbrs, torch.randn(4, 3, 3))
    with pytest.raises(SparseInputError, match=r"weight must have shape \[C, 3, 3\]"):
        depthwise_conv(torch.randn(16, 3), nbrs, torch.randn(3, 5, 5))
    with pytest.raises(SparseInputError, match="expects 16 inputs"):
        depthwise_conv(torch.randn(15, 3), nbrs, torch.randn(3, 3, 3))


def test_wrong_dtype_or_device():
    nbrs = build_neighbours(_points(), kernel_size=3)
    with pytest.raises(SparseInputError, match="floating point"):
        depthwise_conv(torch.ones(16, 3, dtype=torch.int64), nbrs, torch.randn(3, 3, 3))
    with pytest.raises(SparseInputError, match="values on meta but neighbour map on cpu"):
        depthwise_conv(torch.randn(16, 3, device="meta"), nbrs, torch.randn(3, 3, 3))
    with pytest.raises(SparseInputError, match="weight must be a float tensor on cpu"):
        depthwise_conv(torch.randn(16, 3), nbrs, torch.randn(3, 3, 3, device="meta"))
    with pytest.raises(SparseInputError, match=r"does not support torch\.float64"):
        depthwise_conv(torch.randn(16, 3, dtype=torch.float64), nbrs, torch.randn(3, 3, 3), backend="triton")


def test_unknown_backend_lists_available():
    nbrs = build_neighbours(_points(), kernel_size=3)
    with pytest.raises(Exception, match=r"available: ") as raised:
        depthwise_conv(torch.randn(16, 3), nbrs, torch.randn(3, 3, 3), backend="cudnn")
    available = str(raised.value).split("available: ")[1]
    assert {"torch", "triton"} <= {name.strip() for name in available.split(",")}


def test_bad_subsampling_rate_and_scale():
    with pytest.raises(SparseInputError, match="subsampling factor must be >= 1"):
        CoordinateBatch.random(1, (4, 4), 0.5, torch.Generator())
    with pytest.raises(SparseInputError, match="scale must be positive"):
        resize_kernel(torch.randn(2, 3, 3), 0.0)
