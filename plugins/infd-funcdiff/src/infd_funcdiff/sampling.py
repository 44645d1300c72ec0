"""Unconditional and conditional (replacement) sampling of curves at any points, with GP noise.

The reverse process is :func:`infd_samplers.ddpm` with the GP's draws as its noise
(:func:`infd_samplers.measure_noise`); conditioning is :class:`infd_samplers.ReplacementConditioning`
on the observed points (fresh forward draws α_s y + σ_s ξ there after each step), with ``free_steps``
final steps left unconditioned (soft conditioning). Curves are drawn in chunks of ``batch_size`` with
one generator per chunk derived from (seed, "sample", chunk), so results depend only on the seed and
the chunk size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from infd_core.seeding import derive_generator
from infd_funcdiff.curves import check_points, check_values
from infd_funcdiff.errors import FuncDiffInputError
from infd_measures import DiscreteSchedule, GaussianProcess
from infd_samplers import Denoiser, ReplacementConditioning, ddpm, measure_noise


@dataclass(frozen=True)
class Observations:
    """Observed values (model units) at sorted distinct points, and the final unconditioned steps."""

    coords: torch.Tensor
    values: torch.Tensor
    free_steps: int = 0

    def __post_init__(self) -> None:
        x = check_points(self.coords, "observed coordinates")
        object.__setattr__(self, "coords", x)
        object.__setattr__(self, "values", check_values(self.values, x.numel(), "observed values"))
        if self.free_steps < 0:
            raise FuncDiffInputError(f"free_steps must be >= 0, got {self.free_steps}")


def merge_points(query: torch.Tensor, observed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The sorted union of query and observed points, and the mask of observed ones in it."""
    union = torch.unique(torch.cat([query, observed]))
    mask = torch.isin(union, observed)
    return union, mask


def sample_curves(
    model: torch.nn.Module,
    schedule: DiscreteSchedule,
    gp: GaussianProcess,
    points: torch.Tensor,
    num_curves: int,
    *,
    seed: int,
    steps: int = 100,
    batch_size: int = 250,
    observations: Observations | None = None,
    on_step: Callable[[int, int], None] | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``num_curves`` curves (model units) at ``points``; returns (coords ``(M,)``, values ``(N, M)``).

    Chunk k of ``batch_size`` curves draws from ``(seed, "sample", k)``; with ``world_size > 1`` this
    rank samples only the chunks ``k % world_size == rank`` and leaves the other rows zero (summing the
    ranks' values gives the single-process result exactly).

    With ``observations`` the curves are sampled on the union of ``points`` and the observed points
    (both returned), conditioned on the observations.
    """
    points = check_points(points, "sampling coordinates")
    if num_curves < 1 or batch_size < 1 or steps < 1:
        raise FuncDiffInputError("num_curves, batch_size and steps must be positive")
    if steps > schedule.num_steps:
        raise FuncDiffInputError(f"steps ({steps}) exceeds the schedule's {schedule.num_steps} steps")
    mask = None
    if observations is not None:
        points, mask = merge_points(points, observations.coords)
        if observations.free_steps > steps:
            raise FuncDiffInputError(f"free_steps ({observations.free_steps}) exceeds steps ({steps})")
    parameter = next(model.parameters())
    device, dtype = parameter.device, parameter.dtype
    coords = points.to(device=device, dtype=dtype)[:, None]
    noise_coords = points.to(device=device)[:, None]
    denoiser = Denoiser(model, "eps", time_input=lambda t: t.to(dtype) / schedule.num_steps)
    noise = measure_noise(gp, noise_coords)
    chunks = [(s, min(batch_size, num_curves - s)) for s in range(0, num_curves, batch_size)]
    mine = [k for k in range(len(chunks)) if k % world_size == rank]
    total = len(mine) * steps
    outputs = []
    model.eval()
    for chunk, (_, size) in enumerate(chunks):
        if chunk not in mine:
            outputs.append(torch.zeros(size, points.numel(), dtype=torch.float64))
            continue
        position = mine.index(chunk)
        generator = derive_generator(seed, "sample", chunk, device=device)
        like = torch.empty(size, points.numel(), 1, device=device, dtype=dtype)
        x = noise(like, generator)
        guidance = None
        if observations is not None and mask is not None:
            observed = torch.zeros_like(like)
            observed[:, mask, 0] = observations.values.to(device=device, dtype=dtype)
            guide_mask = mask[None, :, None].expand_as(like).to(device)
            guidance = ReplacementConditioning(guide_mask, observed, free_steps=observations.free_steps)

        def report(step, offset=position * steps):  # type: ignore[no-untyped-def]
            if on_step is not None:
                on_step(offset + step.index + 1, total)

        x = ddpm(
            denoiser,
            x,
            schedule,
            steps,
            generator=generator,
            noise=noise,
            guidance=guidance,
            cond={"coords": coords},
            callback=report,
        )
        outputs.append(x[..., 0].detach().to("cpu", torch.float64))
    return points, torch.cat(outputs)


__all__ = ["Observations", "merge_points", "sample_curves"]
