"""K-nearest-neighbour interpolation onto the inner grid against a brute-force kNN over all pairs."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from dense_reference import ragged_points

from infd_sparse import CoordinateBatch, GridTiles, SparseInputError, WholeSet
from infd_sparse.nearest import inverse_distance_grid, nearest_points, nearest_values, sparse_to_grid_knn


def brute_force_knn(
    values: torch.Tensor, points: CoordinateBatch, grid_size: tuple[int, int], k: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Squared distances of every point to every cell centre, per sample, in float64 (all pairs):
    ``(the k smallest [B·h·w, k], inverse-squared-distance interpolation of the k nearest [B, C, h, w],
    a [B·h·w] mask of cells whose k-th and (k+1)-th distances differ: where the k nearest are unique)``."""
    h, w = grid_size
    rows, cols = (
        (torch.arange(h, dtype=torch.float64) + 0.5) / h,
        (torch.arange(w, dtype=torch.float64) + 0.5) / w,
    )
    cells = torch.cartesian_prod(rows, cols)
    sorted_d, grids, unique = [], [], []
    for b in range(points.batch_size):
        mine = points.batch == b
        d2 = ((cells[:, None] - points.centres(torch.float64)[mine][None]) ** 2).sum(-1)  # [h·w, n_b]
        order = d2.argsort(dim=1, stable=True)
        d_sorted = d2.gather(1, order)
        near_d, near_v = d_sorted[:, :k], values[mine][order[:, :k]]
        weights = torch.where(near_d < 1e-20, 1.0, 0.0)
        weights = torch.where(weights.any(1, keepdim=True), weights, 1 / near_d)
        grid = (near_v * (weights / weights.sum(1, keepdim=True))[..., None]).sum(1)
        grids.append(grid.t().reshape(-1, h, w))
        sorted_d.append(F.pad(d_sorted[:, :k], (0, k - min(k, d_sorted.shape[1])), value=math.inf))
        gap = d_sorted[:, k] - d_sorted[:, k - 1] if d_sorted.shape[1] > k else torch.full((h * w,), 1.0)
        unique.append(gap > 1e-9)
    return torch.cat(sorted_d), torch.stack(grids), torch.cat(unique)


@pytest.mark.parametrize("subsampling", [1.5, 4.0, 16.0, 64.0])
@pytest.mark.parametrize("grid_size", [(8, 8), (12, 7), (24, 24)])
def test_knn_matches_brute_force_on_random_points(subsampling, grid_size):
    gen = torch.Generator().manual_seed(int(subsampling * 10) + grid_size[0])
    points = CoordinateBatch.random(3, (33, 29), subsampling, gen)
    values = torch.randn(points.num_points, 2, generator=gen, dtype=torch.float64)
    distance2, _, _ = nearest_points(points, grid_size, 3)
    ref_d, ref_grid, unique = brute_force_knn(values, points, grid_size, 3)
    torch.testing.assert_close(distance2, ref_d, rtol=0, atol=1e-12)
    ours = sparse_to_grid_knn(values, points, grid_size, 3)
    keep = unique.view(3, 1, *grid_size).expand_as(ours)  # where ties at the k-th make the choice free
    assert keep.float().mean() > 0.5
    torch.testing.assert_close(ours[keep], ref_grid[keep])


def test_knn_on_ragged_sets_and_samples_with_fewer_points_than_k():
    points = ragged_points(3, (15, 18), torch.Generator().manual_seed(3))
    values = torch.randn(points.num_points, 3, dtype=torch.float64)
    ref_d, ref_grid, unique = brute_force_knn(values, points, (6, 9), 4)
    distance2, _, _ = nearest_points(points, (6, 9), 4)
    torch.testing.assert_close(distance2, ref_d, rtol=0, atol=1e-12)
    ours = sparse_to_grid_knn(values, points, (6, 9), 4)
    keep = unique.view(3, 1, 6, 9).expand_as(ours)
    torch.testing.assert_close(ours[keep], ref_grid[keep])
    two = CoordinateBatch(torch.tensor([[0, 0], [9, 9]]), torch.tensor([0, 0]), (10, 10), 2)
    grid = sparse_to_grid_knn(torch.tensor([[1.0], [3.0]]), two, (4, 4), 3)
    assert torch.isfinite(grid).all()
    assert grid[0].min() >= 1 and grid[0].max() <= 3  # two points: a convex combination of them
    assert (grid[1] == 0).all()  # the second sample has no points


@pytest.mark.parametrize("subsampling", [4.0, 8.0, 16.0, 64.0])
def test_no_cell_is_empty_at_any_subsampling_rate(subsampling):
    points = CoordinateBatch.random(2, (64, 64), subsampling, torch.Generator().manual_seed(1))
    distance2, _, index = nearest_points(points, (32, 32), 3)
    assert torch.isfinite(distance2).all() and (index >= 0).all()
    grid = sparse_to_grid_knn(torch.full((points.num_points, 1), 2.5), points, (32, 32), 3)
    torch.testing.assert_close(grid, torch.full_like(grid, 2.5))  # no zero cell: a constant stays constant


def test_points_on_cell_centres_give_their_values_exactly():
    # cell i of a 8-cell axis over 24 pixels is centred on pixel 3i + 1
    image = torch.randn(2, 3, 24, 24, dtype=torch.float64)
    full = CoordinateBatch.full(2, (24, 24))
    values = image.permute(0, 2, 3, 1).reshape(-1, 3)
    assert torch.equal(sparse_to_grid_knn(values, full, (8, 8)), image[:, :, 1::3, 1::3])
    subset = CoordinateBatch.random(2, (24, 24), 2.0, torch.Generator().manual_seed(0))
    picked = image.permute(0, 2, 3, 1)[subset.batch, subset.coords[:, 0], subset.coords[:, 1]]
    grid = sparse_to_grid_knn(picked, subset, (8, 8))
    on = torch.zeros(2, 24, 24, dtype=torch.bool)
    on[subset.batch, subset.coords[:, 0], subset.coords[:, 1]] = True
    on = on[:, 1::3, 1::3][:, None].expand_as(grid)
    assert on.any() and torch.equal(grid[on], image[:, :, 1::3, 1::3][on])


@pytest.mark.parametrize("tile_points", [7, 50, 10_000])
def test_tiles_reduce_to_the_whole_grid_result(tile_points):
    image = torch.randn(2 * 20 * 17, 4, dtype=torch.float64)
    full = CoordinateBatch.full(2, (20, 17))
    whole = sparse_to_grid_knn(image, full, (6, 5))
    as_subset = CoordinateBatch(full.coords, full.batch, full.grid, 2)  # the generic search, same set
    assert torch.equal(sparse_to_grid_knn(image, as_subset, (6, 5)), whole)  # ties go to the same pixels
    tiles = GridTiles(2, (20, 17), halo=0, tile_points=tile_points)
    nearest = tiles.reduce(lambda x, p: nearest_values(x, p, (6, 5)), image)
    assert torch.equal(inverse_distance_grid(nearest, 2, (6, 5)), whole)
    once = WholeSet(full, None).reduce(lambda x, p: nearest_values(x, p, (6, 5)), image)  # type: ignore[arg-type]
    torch.testing.assert_close(inverse_distance_grid(once, 2, (6, 5)), whole)


def test_gradient_in_the_values():
    points = CoordinateBatch.random(2, (9, 11), 3.0, torch.Generator().manual_seed(4))
    values = torch.randn(points.num_points, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: sparse_to_grid_knn(v, points, (5, 4), 3), (values,))
    full = CoordinateBatch.full(1, (6, 6))
    dense = torch.randn(36, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: sparse_to_grid_knn(v, full, (4, 4), 3), (dense,))


def test_bad_inputs_are_sparse_input_errors():
    points = CoordinateBatch.full(1, (4, 4))
    with pytest.raises(SparseInputError, match="values must have shape"):
        sparse_to_grid_knn(torch.zeros(3, 1), points, (2, 2))
    with pytest.raises(SparseInputError, match="k must be"):
        sparse_to_grid_knn(torch.zeros(16, 1), points, (2, 2), k=0)
    with pytest.raises(SparseInputError, match="grid size"):
        sparse_to_grid_knn(torch.zeros(16, 1), points, (0, 2))
