from __future__ import annotations

import numpy as np
import pytest
from io_helpers import pattern, reference_downsample

from infd_io.downsample import downsample_2x, downsample_by
from infd_io.tiling import TileGrid, default_levels, halved, max_levels


def test_level_shapes_round_up_like_repeated_halving() -> None:
    grid = TileGrid((3, 1000, 333), tile_size=128, levels=5)
    expected_h, expected_w = 1000, 333
    for level in range(5):
        assert grid.level_shape(level) == (3, expected_h, expected_w)
        expected_h, expected_w = -(-expected_h // 2), -(-expected_w // 2)
    assert halved(1000, 3) == 125
    assert grid.grid(0) == (8, 3)
    assert grid.grid(1) == (4, 2)


def test_tiles_cover_each_level_exactly_once() -> None:
    grid = TileGrid((1, 700, 450), tile_size=64, levels=4)
    for level in range(4):
        _, height, width = grid.level_shape(level)
        cover = np.zeros((height, width), dtype=int)
        for index in grid.tiles(level):
            (y0, y1), (x0, x1) = grid.bounds(level, index)
            cover[y0:y1, x0:x1] += 1
        assert (cover == 1).all()


def test_children_and_source_bounds_agree() -> None:
    grid = TileGrid((3, 1000, 600), tile_size=128, levels=4)
    for level in range(1, 4):
        for index in grid.tiles(level):
            children = grid.children(level, index)
            assert children and all(grid.parent(c) == index for c in children)
            (y0, y1), (x0, x1) = grid.source_bounds(level, index)
            rows = [grid.bounds(level - 1, c)[0] for c in children]
            cols = [grid.bounds(level - 1, c)[1] for c in children]
            assert (y0, y1) == (min(r[0] for r in rows), max(r[1] for r in rows))
            assert (x0, x1) == (min(c[0] for c in cols), max(c[1] for c in cols))
            (by0, by1), (bx0, bx1) = grid.bounds(level, index)
            assert (by1 - by0, bx1 - bx0) == (-(-(y1 - y0) // 2), -(-(x1 - x0) // 2))


def test_default_and_max_levels() -> None:
    assert default_levels(32768, 32768, 2048) == 5
    assert default_levels(100, 100, 128) == 1
    assert default_levels(1025, 10, 1024) == 2
    assert max_levels(1, 1) == 1
    assert max_levels(1024, 3) == 11


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize("shape", [(64, 64), (65, 63), (1, 7), (9, 1)])
def test_downsample_matches_independent_reference(dtype: str, shape: tuple[int, int]) -> None:
    block = pattern((11, 11 + shape[0]), (5, 5 + shape[1]), dtype=dtype)
    out = downsample_2x(block)
    expected = reference_downsample(block)
    assert out.dtype == block.dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


def test_uint8_mean_rounds_half_up() -> None:
    block = np.array([[[0, 1], [1, 0]], [[0, 1], [1, 1]], [[0, 0], [0, 1]]], dtype=np.uint8)
    # sums 2, 3, 1 -> means 0.5, 0.75, 0.25 -> 1, 1, 0
    assert downsample_2x(block).ravel().tolist() == [1, 1, 0]


def test_tiles_starting_on_even_pixels_downsample_like_the_whole_image() -> None:
    image = pattern((0, 300), (0, 258))
    whole = downsample_by(image, 2)
    halves = [downsample_by(image[:, :, :128], 2), downsample_by(image[:, :, 128:], 2)]
    np.testing.assert_array_equal(np.concatenate(halves, axis=2), whole)


def test_downsample_rejects_other_dtypes() -> None:
    with pytest.raises(ValueError, match="uint8 and float32"):
        downsample_2x(np.zeros((1, 4, 4), dtype=np.float16))
