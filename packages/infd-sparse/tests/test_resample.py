"""Sparse <-> grid resampling and kernel resizing against independent references."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from dense_reference import ragged_points

from infd_sparse import (
    CoordinateBatch,
    downsample,
    grid_to_sparse,
    resize_kernel,
    resized_kernel_size,
    sparse_to_grid_bilinear,
    sparse_to_grid_mean,
)


def test_mean_pooling_matches_loops():
    points = ragged_points(2, (12, 10), torch.Generator().manual_seed(0))
    values = torch.randn(points.num_points, 3, dtype=torch.float64)
    grid = sparse_to_grid_mean(values, points, (4, 5))
    sums = torch.zeros(2, 3, 4, 5, dtype=torch.float64)
    counts = torch.zeros(2, 1, 4, 5, dtype=torch.float64)
    for v, b, (r, c) in zip(values, points.batch.tolist(), points.coords.tolist(), strict=True):
        sums[b, :, r * 4 // 12, c * 5 // 10] += v
        counts[b, :, r * 4 // 12, c * 5 // 10] += 1
    torch.testing.assert_close(grid, sums / counts.clamp(min=1))


def test_grid_to_sparse_equals_grid_sample():
    points = ragged_points(3, (17, 9), torch.Generator().manual_seed(1))
    grid = torch.randn(3, 4, 6, 5, dtype=torch.float64)
    ours = grid_to_sparse(grid, points)
    ref = []
    centres = points.centres(torch.float64) * 2 - 1
    for b in range(3):
        xy = centres[points.batch == b].flip(1)[None, None]
        sampled = F.grid_sample(
            grid[b : b + 1], xy, mode="bilinear", padding_mode="border", align_corners=False
        )
        ref.append(sampled[0, :, 0].t())
    torch.testing.assert_close(ours, torch.cat(ref))


def test_bilinear_splatting_reproduces_linear_functions():
    points = CoordinateBatch.full(1, (16, 16))
    centres = points.centres(torch.float64)
    values = (3 * centres[:, 0] - 2 * centres[:, 1] + 0.5)[:, None]
    grid = sparse_to_grid_bilinear(values, points, (8, 8))
    cy = (torch.arange(8, dtype=torch.float64) + 0.5) / 8
    expected = 3 * cy[:, None] - 2 * cy[None, :] + 0.5
    torch.testing.assert_close(grid[0, 0, 1:-1, 1:-1], expected[1:-1, 1:-1])  # interior: symmetric support


def test_bilinear_splatting_of_a_constant_is_constant_where_covered():
    points = ragged_points(2, (20, 20), torch.Generator().manual_seed(2))
    grid = sparse_to_grid_bilinear(torch.full((points.num_points, 1), 2.5), points, (10, 10))
    covered = grid != 0
    assert covered.float().mean() > 0.5
    torch.testing.assert_close(grid[covered], torch.full_like(grid[covered], 2.5))


def test_downsample_matches_set_of_coarse_cells():
    points = ragged_points(3, (11, 7), torch.Generator().manual_seed(3))
    coarse = downsample(points, 3)
    expected = sorted(
        {(b, r // 3, c // 3) for b, (r, c) in zip(points.batch.tolist(), points.coords.tolist(), strict=True)}
    )
    got = list(zip(coarse.batch.tolist(), *zip(*coarse.coords.tolist(), strict=True), strict=True))
    assert got == expected and coarse.grid == (4, 3)


def test_resize_kernel_is_exact_for_bilinear_functions():
    def f(y, x):
        return 1.0 + 0.5 * y - 2.0 * x + 0.25 * x * y

    k = 7
    taps = torch.linspace(-1, 1, k, dtype=torch.float64)
    weight = f(taps[:, None], taps[None, :]).expand(2, k, k)
    big = resize_kernel(weight, 2.0)
    size = resized_kernel_size(k, 2.0)
    assert big.shape == (2, size, size) and size == 13
    fine = torch.linspace(-1, 1, size, dtype=torch.float64)
    torch.testing.assert_close(big[0], f(fine[:, None], fine[None, :]))
    torch.testing.assert_close(resize_kernel(weight, 1.0), weight)
