"""On a CUDA device (``pytest -m gpu``): tiled renders equal the whole-image render bit for bit there too."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from render_helpers import features, tiny_clif, tiny_liif

from infd_render import CLIFConfig, CLIFRenderer, TiledRenderer, render_whole

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
SIZE = (45, 61)


@pytest.mark.parametrize("make", [tiny_clif, tiny_liif], ids=["clif", "liif"])
@pytest.mark.parametrize(("tile", "halo"), [(16, None), (20, 9), (64, None)])
@pytest.mark.parametrize("precision", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_cuda_tiles_equal_whole_image(make, tile: int, halo: int | None, precision: torch.dtype) -> None:
    renderer, feats = make().to("cuda", precision), features().cuda()
    whole = render_whole(renderer, feats, SIZE).float().cpu().numpy()
    out = TiledRenderer(renderer, tile, halo, batch_size=2).render_region(feats, SIZE)
    assert np.abs(out - whole).max() == 0


@pytest.mark.parametrize("precision", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_cuda_paper_size_clif_tiles_equal_whole_image(precision: torch.dtype) -> None:
    torch.manual_seed(0)
    renderer = CLIFRenderer(CLIFConfig()).eval().to("cuda", precision)
    feats = features(128, 32, 32).cuda()
    whole = render_whole(renderer, feats, (300, 260)).float().cpu().numpy()
    out = TiledRenderer(renderer, 128).render_region(feats, (300, 260))
    assert np.abs(out - whole).max() == 0
