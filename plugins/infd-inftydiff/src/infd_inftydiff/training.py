"""Training ∞-Diff on random coordinate subsets with mollified diffusion (eq. 9, loss eq. 42).

A step: images x_0 ``[B, C, R, R]``; white ξ on the full grid; x_t = √ᾱ_t T x_0 + √(1 − ᾱ_t) T ξ;
both x_t and the target T ξ are read at a random 1/subsampling of the pixels; the denoiser sees only
those points; loss ‖f_θ(x_t, t) − T ξ‖² averaged over points and channels.
Every random draw of step ``s`` comes from generators derived from ``(seed, s)``, so a resumed run
repeats exactly what an uninterrupted run would have done.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from infd_core.ddp import sample_generators
from infd_core.json_lines import read_json_lines
from infd_core.seeding import derive_generator
from infd_inftydiff.denoiser import InftyDiffDenoiser
from infd_measures.diffusion import GaussianDiffusion
from infd_sparse import CoordinateBatch

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainingBatch:
    """Noised values at the sampled points, their times and the target T ξ."""

    points: CoordinateBatch
    noisy: torch.Tensor
    target: torch.Tensor
    t: torch.Tensor


def read_points(grid: torch.Tensor, points: CoordinateBatch) -> torch.Tensor:
    """Values ``[N, C]`` of ``grid [B, C, H, W]`` at the integer points."""
    return grid[points.batch, :, points.coords[:, 0], points.coords[:, 1]]


def _per_sample_draws(
    images: torch.Tensor, num_steps: int, subsampling: float, seed: int, step: int, samples: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor, CoordinateBatch]:
    """Time, white noise and points of each global sample k from ``(seed, "noise", step, "sample", k)``."""
    _, _, h, w = images.shape
    generators = sample_generators(seed, step, samples, stream="noise")
    t = torch.cat([torch.randint(1, num_steps + 1, (1,), generator=g) for g in generators])
    white = torch.stack([torch.randn(images.shape[1:], generator=g, dtype=images.dtype) for g in generators])
    # the draws of CoordinateBatch.random(1, ...) for each sample, validated once for the whole batch
    count = max(1, round(h * w / subsampling))
    flat = torch.cat([torch.randperm(h * w, generator=g)[:count].sort().values for g in generators])
    batch = torch.arange(len(generators)).repeat_interleave(count)
    return t, white, CoordinateBatch(torch.stack([flat // w, flat % w], 1), batch, (h, w), len(generators))


def make_batch(
    images: torch.Tensor,
    diffusion: GaussianDiffusion,
    subsampling: float,
    seed: int,
    step: int,
    samples: Sequence[int] | None = None,
) -> TrainingBatch:
    """The noised, subsampled training batch of ``step`` (deterministic in ``(seed, step)``).

    With ``samples`` (the global sample indices of ``images``, as in data-parallel training) each
    sample draws from its own generator, so a sample's noise does not depend on the rank count."""
    b, _, h, w = images.shape
    num_steps = diffusion.schedule.num_steps
    generator = derive_generator(seed, "noise", step, device="cpu")
    if samples is None:
        t = torch.randint(1, num_steps + 1, (b,), generator=generator)
        white = torch.randn(images.shape, generator=generator, dtype=images.dtype)
        points = CoordinateBatch.random(b, (h, w), subsampling, generator)
    else:
        t, white, points = _per_sample_draws(images, num_steps, subsampling, seed, step, samples)
    # draws on the CPU (the same numbers on any device and rank count), T on the images' device
    device = images.device
    noisy, target = diffusion.sample_marginal(images, t, generator, noise=white.to(device))
    points = points.to(device)
    return TrainingBatch(
        points=points,
        noisy=read_points(noisy, points),
        target=read_points(target, points),
        t=(t.to(torch.float32) / num_steps).to(device),
    )


class EMA:
    """Exponential moving average of a model's parameters and buffers."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for key, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                self.state[key].lerp_(value.detach(), 1.0 - self.decay)
            else:
                self.state[key].copy_(value)


def loss_on_batch(
    model: InftyDiffDenoiser, batch: TrainingBatch, amp: bool, latent: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared error between the prediction and T ξ at the sampled points (eq. 42)."""
    device = batch.noisy.device
    use_amp = amp and device.type == "cuda"
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else contextlib.nullcontext()
    with autocast:
        prediction = model(batch.noisy, batch.points, batch.t, latent=latent)
    return torch.mean((prediction.float() - batch.target) ** 2)


class TrainingLoss(nn.Module):
    """The training loss as one module call (encoder included), so DDP sees every parameter used."""

    def __init__(self, model: InftyDiffDenoiser, amp: bool) -> None:
        super().__init__()
        self.model, self.amp = model, amp

    def forward(self, images: torch.Tensor, batch: TrainingBatch) -> torch.Tensor:
        latent = None
        if self.model.encoder is not None:
            latent = self.model.encode(read_points(images, batch.points), batch.points)
        return loss_on_batch(self.model, batch, self.amp, latent)


class LossLog:
    """Appends ``{"step", "loss", ...}`` lines to ``train_log.jsonl`` and draws ``loss.png``."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / "train_log.jsonl"

    def append(self, record: dict[str, float]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    def records(self) -> list[dict[str, float]]:
        return [r for r in read_json_lines(self.path) if "step" in r]

    def truncate_after(self, step: int) -> None:
        """Drop records past ``step`` (a resumed run rewrites them)."""
        kept = [r for r in self.records() if r["step"] <= step]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def plot(self) -> Path | None:
        """``loss.png`` beside the log (skipped, with a log line, when matplotlib is missing)."""
        records = self.records()
        if not records:
            return None
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            logger.warning("matplotlib is not installed: no loss plot")
            return None
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot([r["step"] for r in records], [r["loss"] for r in records], lw=1)
        ax.set_xlabel("step")
        ax.set_ylabel("loss ‖f(x_t, t) − Tξ‖²")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        target = self.path.with_name("loss.png")
        fig.savefig(target, dpi=100)
        plt.close(fig)
        return target
