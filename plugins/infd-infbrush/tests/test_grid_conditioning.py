"""The grid level's conditioning: bottleneck cross-attention on the condition tokens, kNN interpolation."""

from __future__ import annotations

import math

import pytest
import torch

from infd_infbrush.attention import TokenSet
from infd_infbrush.denoiser import InfBrushDenoiser
from infd_infbrush.model_config import BrushDenoiserConfig
from infd_inftydiff import GridUNetConfig
from infd_inftydiff.grid_unet import CrossAttention, GridUNet
from infd_sparse import CoordinateBatch


def test_padded_tokens_hold_each_samples_tokens_in_order():
    tokens = torch.arange(12.0).reshape(6, 2)
    batch = torch.tensor([2, 0, 2, 2, 0, 2])
    dense, mask = TokenSet(tokens, batch, 4).padded()
    assert dense.shape == (4, 4, 2)
    for b in range(4):
        own = tokens[batch == b]
        assert torch.equal(dense[b, : len(own)], own) and mask[b, : len(own)].all()
        assert not mask[b, len(own) :].any() or (len(own) == 0 and mask[b, 0] and not mask[b, 1:].any())


def test_cross_attention_equals_softmax_attention_over_each_samples_own_tokens():
    torch.manual_seed(0)
    layer = CrossAttention(8, 5, heads=2, groups=4)
    for p in layer.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(2, 8, 3, 3)
    sets = [torch.randn(3, 5), torch.randn(1, 5)]
    ragged = TokenSet(torch.cat(sets), torch.tensor([0, 0, 0, 1]), 2)
    out = layer(x, *ragged.padded())
    for b, context in enumerate(sets):  # dense reference, one sample at a time, no padding
        q = layer.q(layer.norm(x[b : b + 1]).reshape(1, 8, 9))[0].reshape(2, 4, 9)
        k, v = layer.kv(layer.context_norm(context)).chunk(2, dim=-1)
        k, v = k.reshape(-1, 2, 4).permute(1, 0, 2), v.reshape(-1, 2, 4).permute(1, 0, 2)
        weights = torch.softmax(q.transpose(1, 2) @ k.transpose(1, 2) / math.sqrt(4), dim=-1)  # [H, 9, T]
        attended = (weights @ v).transpose(1, 2).reshape(8, 9)
        expected = x[b] + layer.out(attended[None])[0].reshape(8, 3, 3)
        torch.testing.assert_close(out[b], expected, atol=1e-5, rtol=1e-5)


def _model() -> InfBrushDenoiser:
    torch.manual_seed(0)
    config = BrushDenoiserConfig(
        train_resolution=8, kernel_size=3, sparse_channels=8, interpolation="knn",
        grid={"resolution": 8, "channels": 8}, attention={"grid_cross_attention": True},
        condition={"dim": 3, "width": 8},
    )  # fmt: skip
    model = InfBrushDenoiser(config)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.1)
    return model.eval()


def test_tiles_equal_the_whole_pass_with_knn_and_bottleneck_attention():
    model = _model()
    g = torch.Generator().manual_seed(1)
    grid = (20, 13)
    points = CoordinateBatch.full(2, grid)
    values = torch.randn(points.num_points, 3, generator=g)
    t = torch.tensor([0.3, 0.8])
    tokens = model.condition_tokens(torch.randn(2, 3, generator=g))
    with torch.no_grad():
        whole = model(values, points, t, tokens)
        tiled = model.evaluate(model.grid_tiles(2, grid, 2 * 35, "cpu"), values, t, tokens, grid)
    torch.testing.assert_close(tiled, whole, atol=2e-5 * whole.abs().max(), rtol=1e-5)


def test_the_bottleneck_reads_the_condition_tokens():
    torch.manual_seed(2)
    unet = GridUNet(GridUNetConfig(resolution=8, channels=8), 4, 4, 16, context_dim=6)
    assert unet.middle_cross is not None
    for p in unet.parameters():
        torch.nn.init.normal_(p, std=0.2)
    x, emb = torch.randn(2, 4, 8, 8), torch.randn(2, 16)
    context = TokenSet.from_dense(torch.randn(2, 3, 6)).padded()
    other = TokenSet.from_dense(torch.randn(2, 3, 6)).padded()
    with torch.no_grad():
        a, b = unet(x, emb, context), unet(x, emb, other)
        unet.middle_cross.out.weight.zero_()
        unet.middle_cross.out.bias.zero_()
        c, d = unet(x, emb, context), unet(x, emb, other)
    assert (a - b).abs().max() > 1e-3  # the tokens change the output ...
    assert torch.equal(c, d)  # ... through the bottleneck attention only
    with pytest.raises(ValueError, match="pass context"):
        unet(x, emb)
