"""GUD App. C: a column-wise schedule streams a strip of any length, window by window.

Data: rows independent, columns a stationary AR(1) chain (correlation ρ between neighbours), so a strip of
any length has unit variance and lag-1 correlation ρ — also across window boundaries when the window
keeps a clean context column (t_w = b) and the appended noise matches the schedule (2b - (k - 1)Δt ≥ 1).
"""

from __future__ import annotations

import itertools

import pytest
import torch
from samplers_testutils import DT, GaussianDenoiser

from infd_measures import columnwise_schedule, linear_soft_schedule
from infd_samplers import SamplerInputError, ddim, reverse_sde, sliding_window

ROWS, COLUMNS, RHO = 2, 8, 0.6


def _model(b=0.75):
    j = torch.arange(COLUMNS, dtype=DT)
    chain = RHO ** (j[:, None] - j[None, :]).abs()
    cov = torch.kron(torch.eye(ROWS, dtype=DT), chain)
    schedule = columnwise_schedule(torch.arange(ROWS * COLUMNS) % COLUMNS, COLUMNS, b=b)
    return GaussianDenoiser(torch.zeros(ROWS * COLUMNS, dtype=DT), cov, schedule), schedule


def test_a_long_strip_keeps_the_statistics_across_windows():
    denoiser, schedule = _model()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2000, ROWS, COLUMNS, generator=gen, dtype=DT)
    blocks = list(
        sliding_window(
            denoiser, x, schedule, 60, columns=2, generator=gen, sampler=reverse_sde, num_windows=6
        )
    )
    assert [b.shape[-1] for b in blocks] == [2, 2, 2, 2, 2, COLUMNS]
    strip = torch.cat(blocks, dim=-1).reshape(-1, 5 * 2 + COLUMNS)  # rows pooled: (samples, 18 columns)
    variance = strip.var(0)
    assert bool(((variance - 1.0).abs() < 0.12).all()), variance
    lag1 = torch.stack([torch.corrcoef(strip[:, [i, i + 1]].T)[0, 1] for i in range(strip.shape[1] - 1)])
    assert bool(((lag1 - RHO).abs() < 0.07).all()), lag1  # including the five window boundaries
    assert bool((strip.mean(0).abs() < 0.1).all())


def test_the_stream_is_endless_and_deterministic():
    denoiser, schedule = _model()

    def first_blocks(count):
        gen = torch.Generator().manual_seed(3)
        x = torch.randn(4, ROWS, COLUMNS, generator=gen, dtype=DT)
        stream = sliding_window(denoiser, x, schedule, 5, columns=3, generator=gen, sampler=ddim)
        return list(itertools.islice(stream, count))

    blocks = first_blocks(12)
    assert len(blocks) == 12 and all(b.shape == (4, ROWS, 3) for b in blocks)
    assert all(torch.equal(a, b) for a, b in zip(first_blocks(12), blocks, strict=True))


def test_bad_window_arguments():
    denoiser, schedule = _model()
    x = torch.zeros(2, ROWS, COLUMNS, dtype=DT)
    gen = torch.Generator()
    with pytest.raises(SamplerInputError, match="columns"):
        next(sliding_window(denoiser, x, schedule, 5, columns=COLUMNS, generator=gen))
    with pytest.raises(SamplerInputError, match="window_time"):
        next(sliding_window(denoiser, x, schedule, 5, columns=2, generator=gen, window_time=0.95))
    with pytest.raises(SamplerInputError, match="column-wise"):
        soft = linear_soft_schedule(torch.zeros(ROWS * COLUMNS, dtype=DT))
        next(sliding_window(denoiser, x, soft, 5, columns=2, generator=gen))
    with pytest.raises(SamplerInputError, match="column offsets"):
        next(
            sliding_window(
                denoiser, x.transpose(-1, -2).reshape(2, COLUMNS, ROWS), schedule, 5, columns=1, generator=gen
            )
        )


def test_a_warning_says_when_the_appended_noise_only_approximates_the_schedule(caplog):
    x = torch.zeros(1, ROWS, COLUMNS, dtype=DT)
    for b, columns, warned in ((0.75, 2, False), (0.5, 3, True), (0.4, 1, True), (0.5, 1, False)):
        denoiser, schedule = _model(b)
        # exact when b - (k - 1) b/(L - 1) >= 1 - b (t_w = b), L = 8
        assert warned == (b - (columns - 1) * b / (COLUMNS - 1) < 1 - b)
        caplog.clear()
        with caplog.at_level("WARNING", logger="infd_samplers.sliding_window"):
            next(sliding_window(denoiser, x, schedule, 2, columns=columns, generator=torch.Generator()))
        assert ("only approximate the schedule" in caplog.text) == warned, (b, columns)
