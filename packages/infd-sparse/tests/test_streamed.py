"""StreamedGrid: stages through arrays give what GridTiles gives in memory; ranks get every tile's result."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infd_sparse import (
    GridTiles,
    SparseConvConfig,
    SparseDepthwiseConv,
    bilinear_splat_sums,
    nearest_values,
    normalise_splat,
)
from infd_sparse.errors import SparseInputError
from infd_sparse.partials import gather_tile_results
from infd_sparse.streamed import StoredField, StreamedGrid, TilePlan, plan_tiles


def _arrays() -> tuple[dict[str, np.ndarray], object]:
    arrays: dict[str, np.ndarray] = {}

    def allocate(name, shape, chunks):
        return arrays.setdefault(name, np.zeros(shape, np.float32))

    return arrays, allocate


def _forward(ev, x, conv, lin):
    """lift → depthwise conv (channelwise) → a non-channelwise local stage → splat and kNN reductions."""
    h = ev.pointwise(lambda v, p: torch.tanh(lin(v)), x)
    mixed = ev.local(
        lambda v, p, n, channels=slice(None): conv(v, n, scale=3.0, channels=channels), h, channelwise=True
    )
    both = ev.local(lambda a, b, p, n: conv(a + b, n, scale=3.0)[:, :2], h, mixed)  # any local function
    sums, mass = ev.reduce(lambda v, p: bilinear_splat_sums(v, p, (4, 4)), both)
    nearest = ev.reduce(lambda v, p: nearest_values(v, p, (3, 3), 3), mixed)
    return both, normalise_splat(sums, mass, ev.batch_size, (4, 4)), nearest


@pytest.mark.parametrize(
    ("plan", "grid"), [(TilePlan(8, 8, 16, 2), (40, 29)), (TilePlan(16, 32, 16, 5), (24, 50))]
)
def test_streamed_stages_equal_the_in_memory_tiles(plan, grid):
    torch.manual_seed(0)
    conv = SparseDepthwiseConv(SparseConvConfig(channels=5, kernel_size=3))
    lin = torch.nn.Linear(3, 5)
    x = torch.randn(2 * grid[0] * grid[1], 3)
    halo = conv.config.kernel_size * 3 // 2  # the kernel resized 3× has radius 3
    with torch.no_grad():
        ref_both, ref_grid, ref_near = _forward(GridTiles(2, grid, halo, 10**6), x, conv, lin)
        arrays, allocate = _arrays()
        ev = StreamedGrid(2, grid, halo, plan, allocate)
        both, splat, near = _forward(ev, x, conv, lin)
    torch.testing.assert_close(ev.rows(both, (0, grid[0], 0, grid[1])), ref_both, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(splat, ref_grid, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(near.values, ref_near.values, atol=1e-6, rtol=1e-5)
    assert len(arrays) == 3  # the lift, the convolution and the local stage are stored; nothing else


def test_plan_fits_the_budget_and_grows_tiles_with_it():
    small = plan_tiles(1, (8192, 8192), 768, 2**28, 1024, 16)
    large = plan_tiles(1, (8192, 8192), 768, 2**31, 1024, 16)
    for plan in (small, large):
        assert plan.pointwise % plan.chunk == 0 and plan.local % plan.chunk == 0
    assert small.local < large.local and small.pointwise < large.pointwise
    grown = (large.local + 2 * 768) ** 2
    assert grown * 32 * large.channel_group <= 2**31  # a channel group's working set fits the budget


class _SumOfRanks:
    """A stand-in for torch.distributed: all_reduce adds the other ranks' buffers (recorded beforehand)."""

    def __init__(self, others: list[list[torch.Tensor]]) -> None:
        self.others, self.calls = others, 0

    def all_reduce(self, buffer: torch.Tensor) -> None:
        for other in self.others:
            buffer += other[self.calls]
        self.calls += 1


def test_every_rank_gets_every_tiles_result_in_tile_order():
    results = [(torch.full((2,), float(i)), [torch.tensor(i * 10)]) for i in range(5)]
    mine = {i: results[i] for i in (0, 2, 4)}
    theirs = {i: results[i] for i in (1, 3)}
    # what rank 1 contributes: its slots filled, the rest zero
    flat = [torch.zeros(5, 2), torch.zeros(5, dtype=torch.int64)]
    for i, (a, (b,)) in theirs.items():
        flat[0][i], flat[1][i] = a, b
    gathered = gather_tile_results(mine, 5, 2, _SumOfRanks([flat]))
    for (a, (b,)), (ra, (rb,)) in zip(gathered, results, strict=True):
        assert torch.equal(a, ra) and torch.equal(b, rb)
    with pytest.raises(SparseInputError, match="every rank needs one"):
        gather_tile_results({}, 1, 2, None)


def test_stored_fields_round_trip_and_bad_grids_are_refused():
    array = np.zeros((2, 3, 5, 7), np.float32)
    field = StoredField(array, torch.device("cpu"))
    rows = torch.arange(2 * 2 * 3 * 3, dtype=torch.float32).reshape(-1, 3)
    field.write((1, 3, 2, 5), rows, 2)
    torch.testing.assert_close(field.read((1, 3, 2, 5)), rows)
    assert array[:, :, 0].sum() == 0 and array[:, :, 3:].sum() == 0
    with pytest.raises(SparseInputError):
        StreamedGrid(1, (8, 8), 1, TilePlan(8, 12, 8, 1), _arrays()[1])  # a tile side not a chunk multiple
