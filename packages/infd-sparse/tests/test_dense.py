"""Full-grid evaluation: dense kernels and tiles with halos equal the neighbour-map convolution."""

from __future__ import annotations

import pytest
import torch

from infd_sparse import (
    CoordinateBatch,
    DenseWindow,
    GridTiles,
    GridWindow,
    SparseConvConfig,
    SparseDepthwiseConv,
    SparseInputError,
    WholeSet,
    bilinear_splat_sums,
    build_neighbours,
    dense_depthwise_conv,
    depthwise_conv,
    grid_to_sparse,
    normalise_splat,
)
from infd_sparse.dense import choose_method, window_counts

# (H, W, k): square, odd and unequal sides, kernels larger than the image
CASES = [(16, 16, 7), (13, 17, 5), (9, 11, 25), (40, 23, 13), (5, 3, 9)]


def _neighbour_map_conv(x, weight, bias):
    """The reference: every pixel a point, the sparse convolution over its neighbour map."""
    b, c, h, w = x.shape
    points = CoordinateBatch.full(b, (h, w))
    values = x.permute(0, 2, 3, 1).reshape(-1, c)
    out = depthwise_conv(values, build_neighbours(points, kernel_size=weight.shape[-1]), weight, bias)
    return out.reshape(b, h, w, c).permute(0, 3, 1, 2)


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize(("h", "w", "k"), CASES)
def test_dense_equals_neighbour_map_float64(method, h, w, k):
    g = torch.Generator().manual_seed(h * w + k)
    x = torch.randn(2, 3, h, w, generator=g, dtype=torch.float64)
    weight = torch.randn(3, k, k, generator=g, dtype=torch.float64)
    bias = torch.randn(3, generator=g, dtype=torch.float64)
    ours = dense_depthwise_conv(x, weight, bias, method=method)
    torch.testing.assert_close(ours, _neighbour_map_conv(x, weight, bias), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_float32_within_1e5_relative(method):
    """fp32: the FFT's rounding (≈ ε · log N · Σ|w x|) stays within 1e-5 of the output's scale."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 4, 64, 48, generator=g)
    weight = torch.randn(4, 29, 29, generator=g)
    ours = dense_depthwise_conv(x, weight, method=method)
    ref = _neighbour_map_conv(x.double(), weight.double(), None)
    assert ((ours.double() - ref).abs().max() / ref.abs().max()).item() < 1e-5


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_gradients_equal_the_neighbour_map_gradients(method):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 11, 14, generator=g, dtype=torch.float64)
    weight = torch.randn(3, 9, 9, generator=g, dtype=torch.float64)
    bias = torch.randn(3, generator=g, dtype=torch.float64)
    upstream = torch.randn(2, 3, 11, 14, generator=g, dtype=torch.float64)
    grads = []
    for fn in (lambda *a: dense_depthwise_conv(*a, method=method), _neighbour_map_conv):
        leaves = [t.clone().requires_grad_() for t in (x, weight, bias)]
        (fn(*leaves) * upstream).sum().backward()
        grads.append([t.grad for t in leaves])
    for ours, ref in zip(*grads, strict=True):
        torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)


def test_window_counts_are_the_neighbour_map_counts():
    points = CoordinateBatch.full(1, (7, 12))
    counts = build_neighbours(points, kernel_size=5).counts.view(7, 12).long()
    expected = window_counts(0, 7, 7, 2)[:, None] * window_counts(0, 12, 12, 2)[None, :]
    assert torch.equal(counts, expected)  # integers
    assert window_counts(4, 3, 7, 2).tolist() == [5, 4, 3]  # rows 2..6, 3..6, 4..6


def test_a_window_with_its_halo_equals_the_whole_image_inside():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 2, 30, 25, generator=g, dtype=torch.float64)
    weight = torch.randn(2, 7, 7, generator=g, dtype=torch.float64)
    whole = dense_depthwise_conv(x, weight)
    window = DenseWindow(1, (30, 25), top=5, left=9, height=16, width=16, halo=3)
    part = dense_depthwise_conv(x[..., 5:21, 9:25], weight, window=window, method="fft")
    torch.testing.assert_close(part[..., 3:-3, 3:-3], whole[..., 8:18, 12:22], rtol=1e-12, atol=1e-12)
    with pytest.raises(SparseInputError, match="exceeds the window's halo"):
        dense_depthwise_conv(x[..., 5:21, 9:25], torch.ones(2, 9, 9, dtype=torch.float64), window=window)


def test_cost_model_prefers_conv2d_for_small_kernels_and_fft_for_large():
    assert choose_method(64, 64, 7) == "direct"
    assert choose_method(1024, 1024, 385) == "fft"


def test_layer_runs_on_neighbour_maps_and_dense_windows():
    layer = SparseDepthwiseConv(SparseConvConfig(channels=3, kernel_size=5)).double()
    g = torch.Generator().manual_seed(3)
    points = CoordinateBatch.full(2, (10, 9))
    values = torch.randn(points.num_points, 3, generator=g, dtype=torch.float64)
    sparse = layer(values, build_neighbours(points, kernel_size=9), scale=2.0)
    dense = layer(values, DenseWindow.whole(2, (10, 9)), scale=2.0)
    torch.testing.assert_close(dense, sparse, rtol=1e-12, atol=1e-12)


class _TwoConvModel(torch.nn.Module):
    """Local → global → local: conv, splat onto a 3×3 grid and read back, conv (every evaluator stage)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a = SparseDepthwiseConv(SparseConvConfig(channels=2, kernel_size=3)).double()
        self.b = SparseDepthwiseConv(SparseConvConfig(channels=2, kernel_size=3)).double()

    def forward(self, ev, values, scale):
        h = ev.local(lambda x, p, n: torch.tanh(self.a(x, n, scale)), values)
        sums, mass = ev.reduce(lambda x, p: bilinear_splat_sums(x, p, (3, 3)), h)
        inner = normalise_splat(sums, mass, ev.batch_size, (3, 3))
        h = ev.pointwise(lambda x, p: x + grid_to_sparse(inner, p), h)
        return ev.local(lambda x, p, n: self.b(x, n, scale), h)


@pytest.mark.parametrize("tile_points", [2 * 4 * 4, 2 * 19 * 5, 2 * 7 * 30, 10**6])
def test_grid_tiles_equal_the_whole_set(tile_points):
    """Tiles of any size (small squares, bands, one tile) give the neighbour-map result."""
    model = _TwoConvModel()
    grid, scale = (19, 30), 3.0  # kernels resized 3 → 7: halo 3
    points = CoordinateBatch.full(2, grid)
    values = torch.randn(
        points.num_points, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64
    )
    whole = model(WholeSet(points, build_neighbours(points, kernel_size=7)), values, scale)
    tiles = GridTiles(2, grid, halo=3, tile_points=tile_points)
    torch.testing.assert_close(model(tiles, values, scale), whole, rtol=1e-10, atol=1e-10)


def test_tiles_cover_the_image_once():
    tiles = GridTiles(3, (50, 37), halo=4, tile_points=3 * 100)
    covered = torch.zeros(50, 37, dtype=torch.int64)
    for top, bottom, left, right in tiles.tiles():
        covered[top:bottom, left:right] += 1
        assert 3 * (bottom - top) * (right - left) <= 300
    assert torch.equal(covered, torch.ones_like(covered))
    assert tiles.extended((0, 10, 30, 37)) == (0, 14, 26, 37)


def test_window_points_are_the_full_grid_points():
    full = CoordinateBatch.full(2, (5, 6))
    ref = CoordinateBatch.from_masks(torch.ones(2, 5, 6, dtype=torch.bool))
    assert torch.equal(full.coords, ref.coords) and torch.equal(full.batch, ref.batch)
    part = GridWindow.of(2, (5, 6), (1, 3, 2, 5))
    assert part.coords.tolist()[:3] == [[1, 2], [1, 3], [1, 4]] and part.num_points == 12
    with pytest.raises(SparseInputError, match="not inside"):
        GridWindow.of(1, (5, 6), (0, 6, 0, 1))


@pytest.mark.parametrize(
    ("grid", "cells", "rect"), [((20, 13), 8, (0, 20, 0, 13)), ((7, 30), 5, (2, 7, 10, 30))]
)
def test_window_resampling_equals_the_per_point_corners(grid, cells, rect):
    """Separable splat sums and read-back on a window = the per-point bilinear corners on its points."""
    window = GridWindow.of(2, grid, rect)
    points = CoordinateBatch(window.coords.clone(), window.batch.clone(), grid, 2)  # the generic path
    g = torch.Generator().manual_seed(5)
    values = torch.randn(window.num_points, 4, generator=g, dtype=torch.float64)
    for ours, ref in zip(
        bilinear_splat_sums(values, window, (cells, cells)),
        bilinear_splat_sums(values, points, (cells, cells)),
        strict=True,
    ):
        torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    inner = torch.randn(2, 4, cells, cells, generator=g, dtype=torch.float64)
    torch.testing.assert_close(
        grid_to_sparse(inner, window), grid_to_sparse(inner, points), rtol=1e-12, atol=1e-12
    )
