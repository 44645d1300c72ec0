"""Data-parallel training whose result does not depend on the number of ranks.

The unit is the *global* batch of a step: ``global_batch`` samples numbered ``0 .. global_batch - 1``.
Each rank takes a contiguous slice of them (:func:`global_batch_slice`), splits it into
``accumulation`` micro-batches (:func:`plan_step`), and draws each sample's data and noise from a
generator derived from ``(seed, step, sample index)`` (:func:`sample_generators`). A micro-batch's mean
loss is multiplied by :attr:`MicroBatch.weight` before ``backward``, so after DDP's gradient averaging
every rank holds the gradient of the mean loss over the whole global batch, whatever the world size::

    model = wrap_ddp(network)                       # DDP when world size > 1, else the module itself
    meter = LossMeter()
    for micro in plan_step(cfg.batch_size, cfg.grad_accumulation):
        with accumulate(model, micro):              # no_sync on all but the last micro-batch
            gens = sample_generators(seed, step, micro.indices)
            loss = loss_of(model, micro.indices, gens)   # mean over the micro-batch
            (loss * micro.weight).backward()
        meter.add(loss, len(micro.indices))
    optimizer.step()
    logged = meter.mean()                           # the global-batch mean, the same on every rank
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from infd_core.distributed import DistInfo, current
from infd_core.errors import UsageError
from infd_core.seeding import derive_generator


def global_batch_slice(global_batch: int, rank: int | None = None, world: int | None = None) -> range:
    """The global sample indices rank ``rank`` of ``world`` takes: a contiguous, near-equal slice."""
    info = current()
    rank = info.rank if rank is None else rank
    world = info.world_size if world is None else world
    if not 0 <= rank < world:
        raise UsageError(f"rank {rank} is outside world size {world}")
    return range(global_batch * rank // world, global_batch * (rank + 1) // world)


def split_range(indices: range, parts: int) -> list[range]:
    """``indices`` cut into ``parts`` contiguous, near-equal ranges."""
    n = len(indices)
    return [indices[n * k // parts : n * (k + 1) // parts] for k in range(parts)]


@dataclasses.dataclass(frozen=True)
class MicroBatch:
    """One forward/backward pass of this rank: its global sample indices and the loss weight."""

    indices: range
    weight: float
    last: bool


def plan_step(global_batch: int, accumulation: int = 1, info: DistInfo | None = None) -> list[MicroBatch]:
    """This rank's micro-batches of one step (``accumulation`` of them, none empty).

    ``weight = len(indices) * world / global_batch`` turns a micro-batch's mean loss into its share of
    the global-batch mean once DDP has averaged the gradients over the ranks.
    """
    info = info or current()
    if accumulation < 1:
        raise UsageError(f"grad_accumulation must be at least 1, got {accumulation}")
    if global_batch < info.world_size * accumulation:
        raise UsageError(
            f"batch size {global_batch} is smaller than world size {info.world_size} x grad_accumulation "
            f"{accumulation}: every rank needs at least one sample per micro-batch"
        )
    mine = global_batch_slice(global_batch, info.rank, info.world_size)
    parts = split_range(mine, accumulation)
    scale = info.world_size / global_batch
    return [MicroBatch(part, len(part) * scale, k == accumulation - 1) for k, part in enumerate(parts)]


def sample_generators(
    seed: int, step: int, indices: Sequence[int], *, stream: str = "train", device: torch.device | str = "cpu"
) -> list[torch.Generator]:
    """One generator per global sample index, from ``(seed, stream, step, "sample", index)``."""
    return [derive_generator(seed, stream, step, "sample", int(i), device=device) for i in indices]


def wrap_ddp(model: nn.Module, info: DistInfo | None = None, **kwargs: Any) -> nn.Module:
    """``DistributedDataParallel(model)`` when the world has more than one rank, else ``model``.

    CUDA modules get ``device_ids`` of their device; CPU modules (gloo) none. Extra ``kwargs`` go to DDP
    (e.g. ``find_unused_parameters=True``).
    """
    info = info or current()
    if not info.distributed:
        return model
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.device.type == "cuda":
        kwargs.setdefault("device_ids", [parameter.device])
    return nn.parallel.DistributedDataParallel(model, **kwargs)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (the module itself otherwise): save and load its state."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def accumulate(model: nn.Module, micro: MicroBatch) -> contextlib.AbstractContextManager[Any]:
    """DDP's ``no_sync`` for every micro-batch but the last (gradients reduce once per step)."""
    if isinstance(model, nn.parallel.DistributedDataParallel) and not micro.last:
        return model.no_sync()
    return contextlib.nullcontext()


def _reduce(values: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
        out = values.to(device)
        dist.all_reduce(out)
        return out.cpu()
    return values


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Elementwise sum over ranks (the tensor itself without a process group).

    A tensor that each rank fills only at its own rows (zeros elsewhere) comes back complete and
    exact: adding zeros changes no bit. That is how ranks share disjointly generated samples.
    """
    return _reduce(values.detach().clone())


class LossMeter:
    """Sums ``loss x count`` over micro-batches; :meth:`mean` is the global-batch mean on every rank."""

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self._count = 0

    def add(self, loss: torch.Tensor | float | dict[str, Any], count: int) -> None:
        values = loss if isinstance(loss, dict) else {"loss": loss}
        for key, value in values.items():
            self._sums[key] = self._sums.get(key, 0.0) + float(value) * count
        self._count += count

    def mean(self) -> dict[str, float]:
        """Every logged value averaged over the whole global batch (one all-reduce)."""
        keys = sorted(self._sums)
        totals = torch.tensor([self._sums[k] for k in keys] + [float(self._count)], dtype=torch.float64)
        totals = _reduce(totals)
        count = float(totals[-1]) or 1.0
        return {k: float(totals[i]) / count for i, k in enumerate(keys)}


def accumulate_gradients(
    model: nn.Module,
    micro_batches: Sequence[MicroBatch],
    loss_of: Callable[[MicroBatch], torch.Tensor],
    step: int,
) -> dict[str, float]:
    """Backpropagate one step's micro-batches; returns the global-batch mean loss (same on every rank).

    ``loss_of(micro)`` returns the micro-batch's mean loss; it is weighted by :attr:`MicroBatch.weight`
    and DDP reduces the gradients once, after the last micro-batch. A non-finite loss stops training
    with the step number. The optimizer step (and gradient clipping) is the caller's.
    """
    meter = LossMeter()
    for micro in micro_batches:
        with accumulate(model, micro):
            loss = loss_of(micro)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss.item()} at step {step}")
            (loss * micro.weight).backward()
        meter.add(loss.detach(), len(micro.indices))
    return meter.mean()


__all__ = [
    "LossMeter",
    "MicroBatch",
    "accumulate",
    "accumulate_gradients",
    "all_reduce_sum",
    "global_batch_slice",
    "plan_step",
    "sample_generators",
    "split_range",
    "unwrap",
    "wrap_ddp",
]
