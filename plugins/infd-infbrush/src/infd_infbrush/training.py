"""One ∞-Brush training loss as a module call, and the per-sample condition-dropout draws.

Data-parallel training (``infd_core.ddp``) needs every draw of global sample ``k`` of step ``s`` to come
from that sample's own generator, whoever computes it: the noise, time and points (infd-inftydiff's
``make_batch`` with ``samples``) and here whether its condition is dropped (``(seed, "condition-drop",
s, "sample", k)``). The loss module runs the condition embedding and the denoiser in one call, so DDP
sees every parameter the step uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
from torch import nn

from infd_core.ddp import sample_generators
from infd_infbrush.denoiser import InfBrushDenoiser
from infd_inftydiff import TrainingBatch


def condition_drops(seed: int, step: int, samples: Sequence[int], probability: float) -> torch.Tensor:
    """``[len(samples)]`` booleans: whether each global sample's condition is replaced by the null one."""
    generators = sample_generators(seed, step, samples, stream="condition-drop")
    return torch.cat([torch.rand(1, generator=g) for g in generators]) < probability


class BrushTrainingLoss(nn.Module):
    """Mean squared error of the conditional denoiser's prediction of Tξ at the sampled points."""

    def __init__(self, model: InfBrushDenoiser, amp: bool) -> None:
        super().__init__()
        self.model, self.amp = model, amp

    def forward(
        self, batch: TrainingBatch, condition: torch.Tensor, drop: torch.Tensor | None
    ) -> torch.Tensor:
        tokens = self.model.condition_tokens(condition, drop)
        device = batch.noisy.device
        use_amp = self.amp and device.type == "cuda"
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else contextlib.nullcontext()
        with autocast:
            prediction = self.model(batch.noisy, batch.points, batch.t, tokens)
        return torch.mean((prediction.float() - batch.target) ** 2)


__all__ = ["BrushTrainingLoss", "condition_drops"]
