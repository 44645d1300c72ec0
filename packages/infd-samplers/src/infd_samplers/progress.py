"""Progress of a sampler: a small record per step, handed to the caller's callback (samplers never print).

:func:`progress_events` adapts such a callback to :class:`infd_core.events.ProgressEvent`, which the CLI
draws as a bar (``infd_core.cli.progress.TqdmProgress``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from infd_core.events import ProgressCallback, ProgressEvent


@dataclass(frozen=True)
class SamplerStep:
    """Step ``index`` (0-based) of ``total`` (None for adaptive solvers) has finished.

    ``t`` is the time (the step number for discrete schedules) reached and ``x`` the state there;
    ``prediction`` is the denoiser's raw output and ``denoised`` the state-space x̂₀ it implies, from the
    step's first evaluation (ODE solvers: its last one).
    """

    index: int
    total: int | None
    t: float
    x: torch.Tensor
    prediction: torch.Tensor
    denoised: torch.Tensor


StepCallback = Callable[[SamplerStep], None]


def progress_events(progress: ProgressCallback, task: str = "sample") -> StepCallback:
    """A sampler callback that reports ``ProgressEvent(task, index + 1, total, {"t": t})``."""

    def report(step: SamplerStep) -> None:
        progress(ProgressEvent(task, step.index + 1, step.total, {"t": float(step.t)}))

    return report


__all__ = ["SamplerStep", "StepCallback", "progress_events"]
