"""Sampling ∞-Brush at any size with classifier-free guidance, every pixel evaluated tile by tile.

As in ∞-Diff the state is the grid ``[B, C, H, W]``, the model predicts the mollified noise Tξ, DDIM runs
in mollified space with fresh noise passed through T and the Wiener filter undoes T at the end. Each
evaluation runs the denoiser over every pixel in tiles of ``chunk_points`` pixels
(:class:`infd_sparse.evaluation.GridTiles`): local operators run with dense kernels on each tile plus a
halo, the attention sums and grid splats are reduced over all tiles first and then applied to each tile,
so a step costs O(N log N) and memory is bounded by a few ``[N, C]`` feature maps and the tiles.
Guidance: ε = ε_uncond + w (ε_cond − ε_uncond), the unconditional branch using the learned null condition.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from infd_infbrush.attention import TokenSet
from infd_infbrush.denoiser import InfBrushDenoiser
from infd_infbrush.errors import GuidanceError
from infd_inftydiff import mollified_ddim
from infd_inftydiff.sampling import x0_from_noise
from infd_measures.discrete import DiscreteSchedule
from infd_measures.mollifier import GaussianMollifier
from infd_samplers.progress import StepCallback
from infd_sparse import PointEvaluator


def check_guidance_scale(scale: float) -> float:
    """A guidance scale w >= 0 (finite)."""
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise GuidanceError(f"guidance scale must be a number >= 0, got {scale!r}") from None
    if not math.isfinite(value) or value < 0:
        raise GuidanceError(f"guidance scale must be >= 0 (0: unconditional, 1: conditional), got {scale}")
    return value


class GuidedGridDenoiser:
    """The point-based model as a guided x₀-denoiser of grid states ``[B, C, H, W]`` (every pixel).

    x̂₀ = (x_t − σ_t Tξ̂)/α_t is clipped to [−1, 1] as in ∞-Diff's sampler.
    """

    def __init__(
        self,
        model: InfBrushDenoiser,
        schedule: DiscreteSchedule,
        tokens: TokenSet,
        guidance_scale: float,
        chunk_points: int = 1 << 18,
    ) -> None:
        self.model = model
        self.schedule = schedule
        self.tokens = tokens
        self.null = model.null_tokens(tokens.batch_size)
        self.scale = check_guidance_scale(guidance_scale)
        self.chunk_points = chunk_points

    def noise(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The guided Tξ prediction ``[B, C, H, W]``."""
        b, c, h, w = x.shape
        tiles = self.model.grid_tiles(b, (h, w), self.chunk_points, x.device)
        values = x.permute(0, 2, 3, 1).reshape(-1, c)
        eps = self.noise_field(tiles, values, t.to(torch.float32) / self.schedule.num_steps, (h, w))
        return eps.reshape(b, h, w, c).permute(0, 3, 1, 2)

    def noise_field(self, ev: PointEvaluator, values: Any, time: torch.Tensor, grid: tuple[int, int]) -> Any:
        """ε_uncond + w (ε_cond − ε_uncond) over the evaluator's points (a tensor, or a streamed field)."""

        def run(tokens: TokenSet) -> Any:
            return self.model.evaluate(ev, values, time, tokens, grid)

        if self.scale == 1.0:
            return run(self.tokens)
        if self.scale == 0.0:
            return run(self.null)
        uncond, cond = run(self.null), run(self.tokens)
        return ev.pointwise(lambda u, e, p: u + self.scale * (e - u), uncond, cond)

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return x0_from_noise(self.schedule, x, self.noise(x, t), t)


def sample_images(
    model: InfBrushDenoiser,
    schedule: DiscreteSchedule,
    mollifier: GaussianMollifier,
    size: tuple[int, int],
    generators: list[torch.Generator],
    tokens: TokenSet,
    *,
    steps: int,
    guidance_scale: float = 1.0,
    eta: float = 0.0,
    wiener_epsilon: float = 0.2,
    chunk_points: int = 1 << 18,
    callback: StepCallback | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Images ``[B, C, H, W]`` in [−1, 1], one per generator, conditioned on ``tokens`` (B samples)."""
    scale_w = check_guidance_scale(guidance_scale)
    if tokens.batch_size != len(generators):
        raise GuidanceError(f"{len(generators)} generators for conditions of {tokens.batch_size} samples")
    return mollified_ddim(
        GuidedGridDenoiser(model, schedule, tokens, scale_w, chunk_points),
        schedule,
        mollifier,
        (model.config.out_channels, *size),
        model.config.train_resolution,
        generators,
        steps=steps,
        eta=eta,
        wiener_epsilon=wiener_epsilon,
        callback=callback,
        device=device,
    )
