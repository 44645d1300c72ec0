"""Neighbour maps against brute-force lookups, including huge grids and strided maps."""

from __future__ import annotations

import torch
from dense_reference import ragged_points

from infd_sparse import CoordinateBatch, build_neighbours, downsample, tap_offsets


def _brute_force(inputs, outputs, k, dilation=1, stride=1):
    where = {
        (int(b), int(r), int(c)): i
        for i, (b, (r, c)) in enumerate(zip(inputs.batch.tolist(), inputs.coords.tolist(), strict=True))
    }
    offsets = tap_offsets(k).tolist()
    table = []
    for b, (r, c) in zip(outputs.batch.tolist(), outputs.coords.tolist(), strict=True):
        row = [
            where.get((b, r * stride + dy * dilation, c * stride + dx * dilation), -1) for dy, dx in offsets
        ]
        table.append(row)
    return torch.tensor(table, dtype=torch.int32).view(-1, k * k)


def test_same_set_matches_brute_force_and_is_symmetric():
    points = ragged_points(3, (10, 13), torch.Generator().manual_seed(0))
    nbrs = build_neighbours(points, kernel_size=5, chunk_points=17)  # several chunks
    assert torch.equal(nbrs.indices, _brute_force(points, points, 5))
    assert torch.equal(nbrs.counts, (nbrs.indices >= 0).sum(1, dtype=torch.int32))
    assert nbrs.symmetric and (nbrs.counts >= 1).all()  # every point sees itself
    # symmetric: j under tap t of i  <=>  i under the mirrored tap of j
    taps = nbrs.num_taps
    for i in range(0, points.num_points, 7):
        for t in range(taps):
            j = int(nbrs.indices[i, t])
            if j >= 0:
                assert int(nbrs.indices[j, taps - 1 - t]) == i


def test_dilated_and_strided_maps():
    points = ragged_points(2, (16, 11), torch.Generator().manual_seed(1))
    dilated = build_neighbours(points, kernel_size=3, dilation=3)
    assert torch.equal(dilated.indices, _brute_force(points, points, 3, dilation=3))
    coarse = downsample(points, 2)
    strided = build_neighbours(points, coarse, kernel_size=5, stride=2)
    assert torch.equal(strided.indices, _brute_force(points, coarse, 5, stride=2))
    assert not strided.symmetric


def test_huge_grid_needs_no_grid_sized_memory():
    g = torch.Generator().manual_seed(2)
    side = 1_000_000  # 10^12 pixels per sample: anything O(H·W) would fail outright
    coords = torch.randint(0, side, (3000, 2), generator=g)
    coords = torch.unique(coords, dim=0)
    base = coords[:50]
    # add a dense 4x4 patch so that neighbours exist
    patch = (
        torch.stack(torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij"), -1).view(-1, 2) + 500_000
    )
    coords = torch.unique(torch.cat([base, patch]), dim=0)
    points = CoordinateBatch(coords, torch.zeros(len(coords), dtype=torch.int64), (side, side), 1)
    nbrs = build_neighbours(points, kernel_size=3)
    assert torch.equal(nbrs.indices, _brute_force(points, points, 3))
    assert int(nbrs.counts.max()) == 9
