"""How far bfloat16 autocast moves a model's prediction and gradients away from float32.

The pipelines train under ``torch.autocast("cuda", bfloat16)``; the same ops run under CPU autocast, so
:func:`autocast_errors` checks that path without a GPU (and on one, with ``device_type="cuda"``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def autocast_errors(
    model: nn.Module,
    predict: Callable[[], torch.Tensor],
    target: torch.Tensor,
    device_type: str = "cpu",
) -> tuple[float, float]:
    """Relative L2 errors ``(prediction, gradient)`` of bfloat16 autocast against float32, for the mean
    squared error of ``predict()`` to ``target`` (gradients of every parameter that receives one)."""

    def prediction_and_gradient(enabled: bool) -> tuple[torch.Tensor, torch.Tensor]:
        model.zero_grad()
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=enabled):
            out = predict()
        ((out.float() - target) ** 2).mean().backward()
        grads = [p.grad.flatten() for p in model.parameters() if p.grad is not None]
        return out.float().detach(), torch.cat(grads)

    out32, grad32 = prediction_and_gradient(False)
    out16, grad16 = prediction_and_gradient(True)
    return _relative(out16, out32), _relative(grad16, grad32)


def _relative(approximate: torch.Tensor, reference: torch.Tensor) -> float:
    return ((approximate - reference).norm() / reference.norm()).item()


__all__ = ["autocast_errors"]
