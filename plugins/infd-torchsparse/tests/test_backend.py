"""The torchsparse backend, through a stand-in torchsparse, against the exact lookup and a dense conv2d."""

from __future__ import annotations

import pytest
import torch
from sparse_helpers import dense_reference, ragged

from infd_sparse import SparseInputError, build_neighbours, depthwise_conv, downsample
from infd_sparse.backends.select import choose_backend_name, get_backend
from infd_torchsparse.backend import TorchsparseBackend, TorchsparseBackendConfig


@pytest.mark.usefixtures("fake_torchsparse")
@pytest.mark.parametrize("kernel_size, dilation", [(3, 1), (5, 2), (7, 1)])
def test_hash_maps_equal_sorted_key_maps(kernel_size: int, dilation: int) -> None:
    points = ragged(3, (13, 11), seed=kernel_size)
    options = {"kernel_size": kernel_size, "dilation": dilation}
    hashed = build_neighbours(points, chunk_points=40, backend="torchsparse", **options)
    exact = build_neighbours(points, backend="sorted", **options)
    assert torch.equal(hashed.indices, exact.indices) and torch.equal(hashed.counts, exact.counts)
    assert hashed.symmetric and (hashed.indices >= 0).any() and (hashed.indices < 0).any()


@pytest.mark.usefixtures("fake_torchsparse")
def test_strided_maps_and_empty_inputs() -> None:
    points = ragged(2, (16, 12), seed=5)
    coarse = downsample(points, 2)
    hashed = build_neighbours(points, coarse, kernel_size=5, stride=2, backend="torchsparse")
    exact = build_neighbours(points, coarse, kernel_size=5, stride=2, backend="sorted")
    assert torch.equal(hashed.indices, exact.indices)
    assert not hashed.symmetric
    empty = points.__class__(points.coords[:0], points.batch[:0], points.grid, points.batch_size)
    assert build_neighbours(empty, points, kernel_size=3, backend="torchsparse").counts.sum() == 0


@pytest.mark.usefixtures("fake_torchsparse")
@pytest.mark.parametrize("compute", ["auto", "torch"])
def test_convolution_matches_dense_conv2d_with_gradients(compute: str) -> None:
    points = ragged(3, (12, 10), seed=11)
    backend = TorchsparseBackend(TorchsparseBackendConfig(compute=compute))
    nbrs = build_neighbours(points, kernel_size=5, dilation=2, backend="torchsparse")
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(points.num_points, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(4, 5, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    out = backend.depthwise_conv(values, nbrs, weight.reshape(4, 25), normalise=True)
    expected = dense_reference(values, points, weight, dilation=2)
    torch.testing.assert_close(out, expected)
    probe = torch.randn(out.shape, generator=generator, dtype=torch.float64)
    got = torch.autograd.grad((out * probe).sum(), (values, weight))
    want = torch.autograd.grad((expected * probe).sum(), (values, weight))
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.usefixtures("fake_torchsparse")
def test_named_backend_through_the_public_function() -> None:
    points = ragged(2, (9, 9), seed=3)
    nbrs = build_neighbours(points, kernel_size=3, backend="torchsparse")
    values, weight = torch.randn(points.num_points, 2), torch.randn(2, 3, 3)
    out = depthwise_conv(values, nbrs, weight, backend="torchsparse")
    torch.testing.assert_close(out, dense_reference(values, points, weight))


@pytest.mark.usefixtures("fake_torchsparse")
def test_auto_choice_is_torchsparse_on_cuda_only() -> None:
    from infd_torchsparse.plugin import infd_choose_sparse_backend

    assert infd_choose_sparse_backend("cuda", "bfloat16") == "torchsparse"
    assert infd_choose_sparse_backend("cpu", "float32") is None
    assert choose_backend_name(torch.device("cpu"), torch.float32) == "torch"


def test_missing_torchsparse_is_a_clear_error(no_torchsparse: None) -> None:
    from infd_torchsparse.plugin import infd_choose_sparse_backend

    assert infd_choose_sparse_backend("cuda", "float32") is None  # auto falls back to infd's kernels
    points = ragged(1, (6, 6), seed=0)
    with pytest.raises(SparseInputError, match=r"torchsparse is not importable.*not on PyPI"):
        build_neighbours(points, kernel_size=3, backend="torchsparse")
    with pytest.raises(SparseInputError, match="torchsparse is not importable"):
        get_backend("torchsparse", torch.device("cpu"), torch.float32)
    assert build_neighbours(points, kernel_size=3).counts.min() >= 1  # auto needs no torchsparse


@pytest.mark.usefixtures("fake_torchsparse")
def test_an_unexpected_query_shape_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import torchsparse.nn.functional as functional

    monkeypatch.setattr(functional, "sphashquery", lambda queries, references: queries.reshape(-1))
    with pytest.raises(RuntimeError, match="not supported by infd-torchsparse"):
        build_neighbours(ragged(1, (6, 6), seed=1), kernel_size=3, backend="torchsparse")
