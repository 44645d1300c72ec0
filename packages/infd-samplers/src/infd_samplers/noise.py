"""Fresh noise for samplers: white, mollified (∞-Diff: noise passes through T) or a measure's at points.

A noise function has the signature ``noise(like, generator) -> Tensor`` and returns a draw shaped like
``like``. Samplers take ``generator`` as one ``torch.Generator`` or as a sequence with one generator per
batch element; in the second case every sample draws its own noise from its own generator (one call per
sample), so a sample does not depend on the rest of the batch (see :mod:`infd_samplers.batching`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from infd_core import draws
from infd_samplers.errors import SamplerInputError

NoiseFn = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
Generators = torch.Generator | Sequence[torch.Generator]


def white_noise(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """N(0, I) shaped like ``like``."""
    return draws.randn(like.shape, generator, dtype=like.dtype, device=like.device)


def mollified_noise(mollifier: Any) -> NoiseFn:
    """Tξ, ξ white, for grid states ``(..., C, *shape)`` via ``mollifier.apply`` (a GaussianMollifier)."""

    def draw_mollified(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return mollifier.apply(white_noise(like, generator))

    return draw_mollified


def measure_noise(measure: Any, coords: torch.Tensor, **sample_kwargs: Any) -> NoiseFn:
    """A Gaussian measure's draw at ``coords``, for channels-last values ``(B, M, C)``.

    ``coords`` is ``(M, d)`` (shared by the batch) or ``(B, M, d)``; with per-sample generators, shared
    coordinates are required (each sample draws alone). Extra keywords go to ``measure.sample``.
    """

    def draw_measure(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if like.dim() < 2:
            raise SamplerInputError(
                f"measure noise needs channels-last values (B, M, C), got {tuple(like.shape)}"
            )
        points = coords
        if points.dim() == 2:
            points = points.expand(*like.shape[:-2], *points.shape)
        elif tuple(points.shape[:-1]) != tuple(like.shape[:-1]):
            raise SamplerInputError(
                f"coordinates of shape {tuple(coords.shape)} do not match values of shape {tuple(like.shape)}"
            )
        values = measure.sample(points, generator, like.shape[-1], **sample_kwargs)
        return values.to(device=like.device, dtype=like.dtype)

    return draw_measure


def draw(noise: NoiseFn, like: torch.Tensor, generator: Generators) -> torch.Tensor:
    """One draw of ``noise`` shaped like ``like`` from one generator or from one generator per sample."""
    if isinstance(generator, torch.Generator):
        out = noise(like, generator)
    else:
        generators = list(generator)
        if len(generators) != like.shape[0] or not all(isinstance(g, torch.Generator) for g in generators):
            raise SamplerInputError(
                f"generator must be a torch.Generator or one per batch element ({like.shape[0]}), "
                f"got {len(generators)} items"
            )
        out = torch.cat([noise(like[i : i + 1], g) for i, g in enumerate(generators)])
    if out.shape != like.shape:
        raise SamplerInputError(
            f"the noise function returned shape {tuple(out.shape)}, expected {tuple(like.shape)}"
        )
    return out


def require_generator(generator: Generators | None, why: str) -> Generators:
    """``generator`` itself, or a clear error when a random draw needs one."""
    if generator is None:
        raise SamplerInputError(
            f"{why} draws random numbers: pass generator=torch.Generator (or one per sample)"
        )
    if not isinstance(generator, torch.Generator) and not isinstance(generator, Sequence):
        raise SamplerInputError(
            f"generator must be a torch.Generator or a sequence of them, got {generator!r}"
        )
    return generator


def unmollify(values: torch.Tensor, mollifier: Any, epsilon: float = 1e-3) -> torch.Tensor:
    """Approximate x₀ from a final mollified state T x₀: the Wiener inverse of ∞-Diff §3.2 (not applied
    by the samplers; call it on their output when the model works in mollified space)."""
    return mollifier.wiener_inverse(values, epsilon)


__all__ = [
    "Generators",
    "NoiseFn",
    "draw",
    "measure_noise",
    "mollified_noise",
    "require_generator",
    "unmollify",
    "white_noise",
]
