"""One generator per sample, so that a sample depends only on (seed, its index) — never on the batch it
was drawn in, the tile order or the number of ranks (EDM-style per-seed generators).

Every sampler accepts ``generator=[g_0, ..., g_{B-1}]``: each random draw is then made sample by sample
from that sample's generator. Derive them with ``infd_core.seeding.derive_generator(seed, "sample", i)``
(:func:`sample_generators`); :func:`sample_batch` also draws the initial noise that way, so sampling
indices 0..7 at once equals sampling 0..3 and 4..7 separately and concatenating: bit for bit when the
denoiser's arithmetic for one sample does not depend on the batch, otherwise to float rounding (a
network's matrix products and vectorised kernels may round differently for another batch size).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from infd_core.seeding import derive_generator
from infd_samplers.errors import SamplerInputError
from infd_samplers.noise import NoiseFn, draw, white_noise

Sampler = Callable[..., torch.Tensor]


def sample_generators(
    seed: int, indices: Iterable[int], *, device: torch.device | str = "cpu", label: str = "sample"
) -> list[torch.Generator]:
    """``derive_generator(seed, label, i)`` for each sample index ``i``."""
    return [derive_generator(seed, label, int(i), device=device) for i in indices]


def sample_batch(
    sampler: Sampler,
    denoiser: Any,
    schedule: Any,
    steps: Any,
    *,
    seed: int,
    indices: Sequence[int],
    sample_shape: Sequence[int],
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    prior_noise: NoiseFn | None = None,
    **sampler_kwargs: Any,
) -> torch.Tensor:
    """Samples ``indices`` of the stream ``seed``: initial noise and every later draw per sample.

    ``prior_noise`` draws the initial state (white by default; e.g. mollified or GP noise); the rest of
    the keywords go to ``sampler`` (which receives the list of generators).
    """
    indices = list(indices)
    if not indices:
        raise SamplerInputError("sample_batch needs at least one sample index")
    if "generator" in sampler_kwargs:
        raise SamplerInputError("sample_batch derives the generators itself from seed and indices")
    generators = sample_generators(seed, indices, device=device)
    like = torch.empty((len(indices), *sample_shape), dtype=dtype, device=device)
    x = draw(prior_noise or white_noise, like, generators)
    return sampler(denoiser, x, schedule, steps, generator=generators, **sampler_kwargs)


__all__ = ["sample_batch", "sample_generators"]
