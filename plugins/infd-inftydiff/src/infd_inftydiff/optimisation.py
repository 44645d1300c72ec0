"""The optimisation loop ∞-Diff and ∞-Brush share: data-parallel steps, clipping, EMA, logs, checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import nn

from infd_core.ddp import MicroBatch, accumulate_gradients, plan_step
from infd_core.pipeline import RunContext
from infd_inftydiff.config import OptimConfig
from infd_inftydiff.training import EMA, LossLog


class Trainable(Protocol):
    """What :func:`optimise` drives: a pipeline's model, optimizer, EMA, step counter and state."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    ema: EMA
    step: int

    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]: ...


def optimise(
    owner: Trainable,
    context: RunContext,
    optim: OptimConfig,
    batch_size: int,
    training_loss: nn.Module,
    micro_loss: Callable[[MicroBatch], torch.Tensor],
) -> float:
    """Train ``owner`` from its current step to ``optim.steps``; returns the last step's mean loss.

    Each step splits the global batch ``batch_size`` over ranks and ``optim.grad_accumulation``
    micro-batches (``infd_core.ddp``), clips the gradient norm, steps the optimizer and the EMA, reports
    progress, appends to the loss log (main rank) and saves a checkpoint every ``checkpoint_every`` steps.
    """
    log = LossLog(context.output)
    if context.dist.is_main:
        log.truncate_after(owner.step)
    owner.model.train()
    loss_value = float("nan")
    plan = plan_step(batch_size, optim.grad_accumulation, context.dist)
    while owner.step < optim.steps:
        owner.optimizer.zero_grad(set_to_none=True)
        losses = accumulate_gradients(training_loss, plan, micro_loss, owner.step)
        torch.nn.utils.clip_grad_norm_(owner.model.parameters(), optim.grad_clip)
        owner.optimizer.step()
        owner.ema.update(owner.model)
        owner.step += 1
        loss_value = losses["loss"]
        context.report_train_step(owner.step, optim.steps, {"loss": loss_value})
        if context.dist.is_main and (owner.step % optim.log_every == 0 or owner.step == optim.steps):
            log.append({"step": owner.step, "loss": loss_value})
        if optim.checkpoint_every and owner.step % optim.checkpoint_every == 0:
            tensors, meta = owner.state()
            context.save_checkpoint(tensors, meta, step=owner.step)
    if context.dist.is_main:
        log.plot()
    return loss_value
