"""Coordinates against the direct pixel-centre formula; crops of huge images stay small."""

from __future__ import annotations

import pytest
import torch

from infd_core.errors import UsageError
from infd_render import cell_grid, coordinate_grid, pixel_centres


def test_pixel_centres_match_formula():
    n = 7
    expected = torch.tensor([2 * (i + 0.5) / n - 1 for i in range(n)])
    assert torch.equal(pixel_centres(n), expected)


def test_grid_rows_first_and_cells():
    grid = coordinate_grid((3, 5))
    assert grid.shape == (3, 5, 2)
    assert grid[2, 4, 0].item() == pytest.approx(2 * 2.5 / 3 - 1)
    assert grid[2, 4, 1].item() == pytest.approx(2 * 4.5 / 5 - 1)
    assert torch.equal(cell_grid((3, 5))[1, 1], torch.tensor([2 / 3, 2 / 5]))


def test_region_equals_crop_of_full_grid():
    full = coordinate_grid((37, 53))
    assert torch.equal(coordinate_grid((37, 53), ((5, 20), (7, 50))), full[5:20, 7:50])


def test_crop_of_gigapixel_image_allocates_only_the_crop():
    crop = coordinate_grid(32768, ((32000, 32064), (100, 164)))
    assert crop.shape == (64, 64, 2)
    assert crop.untyped_storage().nbytes() == 64 * 64 * 2 * 4
    assert crop[0, 0, 0].item() == pytest.approx(2 * 32000.5 / 32768 - 1)


def test_bad_region_refused():
    with pytest.raises(UsageError):
        coordinate_grid(16, ((0, 17), (0, 4)))
