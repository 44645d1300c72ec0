"""autocast_errors measures bfloat16 autocast against float32 (compared with a hand-rounded product)."""

from __future__ import annotations

import torch

from infd_core.mixed_precision import autocast_errors


def test_linear_layer_errors_are_bfloat16_rounding():
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 8, bias=False)
    x, target = torch.randn(32, 64), torch.randn(32, 8)
    out_error, grad_error = autocast_errors(layer, lambda: layer(x), target)
    # autocast runs the product on bfloat16-rounded operands: the same error by hand
    by_hand = x.bfloat16().float() @ layer.weight.detach().bfloat16().float().T
    exact = x @ layer.weight.detach().T
    expected = ((by_hand - exact).norm() / exact.norm()).item()
    assert 0 < out_error < 0.01 and abs(out_error - expected) < 0.5 * expected
    assert 0 < grad_error < 0.02
