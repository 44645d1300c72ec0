"""Receptive fields measured by perturbing one input pixel, against the radius read from the network."""

from __future__ import annotations

import pytest
import torch
from render_helpers import features, tiny_clif, tiny_liif

from infd_render import coordinate_grid, render_whole


def footprint_radius(net, channels: int, size: int = 21) -> int:
    x = torch.randn(1, channels, size, size, generator=torch.Generator().manual_seed(3))
    y = x.clone()
    y[0, :, size // 2, size // 2] += 1.0
    with torch.no_grad():
        changed = (net(x) != net(y)).any(dim=1)[0].nonzero()
    return int((changed - size // 2).abs().max())


@pytest.mark.parametrize(("blocks", "kernel"), [(2, 3), (1, 3), (0, 5)])
def test_clif_radius_equals_measured_footprint(blocks, kernel):
    renderer = tiny_clif(residual_blocks=blocks, kernel_size=kernel)
    measured = footprint_radius(renderer.net, 8 + 4)
    assert renderer.receptive_field == measured == (2 + 2 * blocks) * (kernel // 2)


def test_default_clif_is_six_convs_radius_six():
    from infd_render import CLIFRenderer

    assert CLIFRenderer().receptive_field == 6


def test_liif_is_pointwise():
    renderer, feats = tiny_liif(), features()
    coords = coordinate_grid((9, 9)).unsqueeze(0)
    cells = torch.full((1, 9, 9, 2), 2 / 9)
    moved = coords.clone()
    moved[0, 4, 4] += 0.05
    with torch.no_grad():
        diff = (renderer.render(feats, coords, cells) != renderer.render(feats, moved, cells)).any(dim=1)[0]
    assert diff.nonzero().tolist() == [[4, 4]]
    assert renderer.receptive_field == 0
    assert render_whole(renderer, feats, 9).shape == (3, 9, 9)
