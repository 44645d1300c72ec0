"""Tiled renders equal the whole-image render bit for bit; sub-regions equal crops."""

from __future__ import annotations

import numpy as np
import pytest
from render_helpers import features, tiny_clif, tiny_liif

from infd_core.errors import UsageError
from infd_render import ArraySink, TiledRenderer, render_whole

SIZE = (45, 61)  # divisible by none of the tile sizes


@pytest.fixture(scope="module")
def clif_case():
    renderer, feats = tiny_clif(), features()
    return renderer, feats, render_whole(renderer, feats, SIZE).numpy()


@pytest.mark.parametrize(("tile", "halo", "batch"), [(16, None, 1), (20, 6, 3), (7, 11, 2), (64, None, 1)])
def test_clif_tiles_equal_whole_image(clif_case, tile, halo, batch):
    renderer, feats, whole = clif_case
    out = TiledRenderer(renderer, tile, halo, batch_size=batch).render_region(feats, SIZE)
    assert out.dtype == whole.dtype == np.float32
    assert np.abs(out - whole).max() == 0


@pytest.mark.parametrize("tile", [8, 25])
def test_liif_tiles_equal_whole_image(tile):
    renderer, feats = tiny_liif(), features()
    whole = render_whole(renderer, feats, SIZE).numpy()
    out = TiledRenderer(renderer, tile, batch_size=2).render_region(feats, SIZE)
    assert np.abs(out - whole).max() == 0


def test_region_equals_crop_of_full_render(clif_case):
    renderer, feats, whole = clif_case
    region = ((3, 40), (10, 59))
    out = TiledRenderer(renderer, 16).render_region(feats, SIZE, region)
    assert np.abs(out - whole[:, 3:40, 10:59]).max() == 0


def test_halo_smaller_than_receptive_field_refused():
    with pytest.raises(UsageError, match="receptive-field radius 6"):
        TiledRenderer(tiny_clif(), 16, halo=5)


def test_ranks_split_tiles_without_changing_them(clif_case):
    renderer, feats, whole = clif_case
    sink = ArraySink(SIZE, 3, np.float32, tile_size=16)
    tiler = TiledRenderer(renderer, 16)
    written = [tiler.render_to_sink(sink, feats, SIZE, rank=rank, world_size=3) for rank in (2, 0, 1)]
    assert sum(written) == len(sink.tiles())
    assert np.abs(sink.array - whole).max() == 0


def test_default_size_clif_is_exact():
    import torch

    from infd_render import CLIFConfig, CLIFRenderer

    torch.manual_seed(0)
    renderer = CLIFRenderer(CLIFConfig(gemm_chunk=256)).eval()
    feats = features(128, 6, 7)
    whole = render_whole(renderer, feats, (30, 26)).numpy()
    out = TiledRenderer(renderer, 12).render_region(feats, (30, 26))
    assert np.abs(out - whole).max() == 0


@pytest.mark.parametrize("make", [tiny_clif, tiny_liif], ids=["clif", "liif"])
def test_bfloat16_tiles_equal_whole_image(make):
    import torch

    renderer, feats = make().to(torch.bfloat16), features()
    whole = render_whole(renderer, feats, SIZE)
    out = TiledRenderer(renderer, 16, batch_size=2).render_region(feats, SIZE)
    assert np.abs(out - whole.float().numpy()).max() == 0
    reference = render_whole(make(), feats, SIZE).numpy()  # bfloat16 stays close to float32
    assert 0 < np.abs(out - reference).max() < 0.05
