"""Repeated column-wise generation (GUD App. C): a strip of any length, streamed column block by block.

With GUD's column-wise schedule (eq. 22; ``infd_measures.componentwise.columnwise_schedule``) column j of L
waits clean until its offset t_j = b (L - 1 - j)/(L - 1), so moving time by Δt = b/(L - 1) moves the
noising front by one column. Starting from the state at the window time t_w (reached from pure noise at
t = 1), each window denoises from t_w to t_w - kΔt, emits the k leftmost (now clean) columns, shifts the
rest left and appends k columns of fresh prior noise: the state is back at noising time t_w, so the loop
can run forever. The default t_w = b (the paper's Fig. 8 example) keeps column k clean as well when the
k columns are emitted, so the next window still sees one clean column of context; any t_w up to b + Δt
(the latest time at which the emitted columns are clean) is allowed, but columns cut while their right
neighbour is still noisy lose their correlation with it. The appended noise matches the schedule exactly
when t_w - (k - 1)Δt ≥ 1 - b (for t_w = b: 2b - (k - 1)Δt ≥ 1), else approximately (as in the paper's
b = 0.5, k = 9). Only translation-invariant data make sense here.

The state's last axis holds the L columns and the schedule's components map onto its trailing axes
(e.g. ``(B, C, H, L)`` with D = H·L components in row-major pixel order, as the pixel basis orders them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

from infd_samplers.ancestral import ddim
from infd_samplers.denoiser import Denoiser, Model
from infd_samplers.errors import SamplerInputError
from infd_samplers.noise import Generators, NoiseFn, draw, require_generator, white_noise
from infd_samplers.progress import StepCallback
from infd_samplers.schedule_view import ScheduleView

Sampler = Callable[..., torch.Tensor]

logger = logging.getLogger(__name__)


def column_step(schedule: Any, like: torch.Tensor) -> float:
    """Δt = b/(L - 1) of a column-wise schedule for states ``like``, after checking the schedule's layout."""
    offsets, b = getattr(schedule, "column_offset", None), getattr(schedule, "b", None)
    if offsets is None or b is None or not 0.0 < float(b) < 1.0:
        raise SamplerInputError(
            "the sliding window needs a column-wise schedule (column_offset and 0 < b < 1)"
        )
    level_offset = getattr(schedule, "level_offset", None)
    if level_offset is not None and bool((torch.as_tensor(level_offset) != 0).any()):
        raise SamplerInputError("the sliding window needs a pure column-wise schedule (no level offsets)")
    view = ScheduleView(schedule, like)
    columns = like.shape[-1]
    if view.component_shape is None or view.component_shape[-1] != columns or columns < 2:
        raise SamplerInputError(
            f"the schedule's components must map onto the trailing axes of the state with the columns last; "
            f"state {tuple(like.shape)}"
        )
    grid = torch.as_tensor(offsets, dtype=torch.float64).reshape(view.component_shape)
    j = torch.arange(columns, dtype=torch.float64)
    expected = float(b) * (columns - 1 - j) / (columns - 1)
    if not torch.allclose(grid, expected.expand_as(grid), atol=1e-9):
        raise SamplerInputError(
            f"the schedule's column offsets are not b (L - 1 - j)/(L - 1) along the state's last axis "
            f"(L = {columns})"
        )
    return float(b) / (columns - 1)


def _grid(start: float, stop: float, steps: int) -> list[float]:
    return torch.linspace(start, stop, steps + 1, dtype=torch.float64).tolist()


def sliding_window(
    denoiser: Denoiser | Model,
    x: torch.Tensor,
    schedule: Any,
    steps: int,
    *,
    columns: int,
    generator: Generators,
    sampler: Sampler = ddim,
    window_time: float | None = None,
    initial_steps: int | None = None,
    num_windows: int | None = None,
    callback: StepCallback | None = None,
    parameterisation: str | None = None,
    noise: NoiseFn | None = None,
    cond: Mapping[str, Any] | None = None,
    **sampler_kwargs: Any,
) -> Iterator[torch.Tensor]:
    """Yield finished column blocks ``(..., k)`` (k = ``columns``) of an endless strip, from ``x`` at t = 1.

    ``steps`` sampler steps per window; ``initial_steps`` (default: the same step density) bring the state
    from t = 1 to the window time. With ``num_windows`` the generator stops after that many windows, the
    last one denoised to t = 0 and yielded whole (L columns), giving a strip of (num_windows - 1)·k + L
    columns. ``sampler`` is any sampler of this package (``ddim``, ``ddpm``, ``reverse_sde``,
    ``probability_flow``); extra keywords go to it.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise SamplerInputError(f"steps (per window) must be a positive int, got {steps!r}")
    total_columns = x.shape[-1]
    if isinstance(columns, bool) or not isinstance(columns, int) or not 1 <= columns < total_columns:
        raise SamplerInputError(f"columns must be an int in [1, {total_columns - 1}], got {columns!r}")
    if num_windows is not None and (not isinstance(num_windows, int) or num_windows < 1):
        raise SamplerInputError(f"num_windows must be a positive int or None, got {num_windows!r}")
    generator = require_generator(generator, "the sliding window (fresh prior columns)")
    delta = column_step(schedule, x)
    t_window = float(schedule.b) if window_time is None else float(window_time)
    t_emit = t_window - columns * delta
    latest = min(1.0, float(schedule.b) + delta)
    if not 0.0 < t_emit < t_window <= latest + 1e-12:
        raise SamplerInputError(
            f"window_time must lie in ({columns * delta:.4g}, {latest:.4g}] so that the emitted columns are "
            f"clean, got {t_window}"
        )
    if t_window - (columns - 1) * delta < 1.0 - float(schedule.b) - 1e-12:
        logger.warning(
            "sliding window: the %d appended columns of prior noise only approximate the schedule "
            "(t_w - (k - 1)Δt = %.4g < 1 - b = %.4g), so long strips may drift; a larger b or a smaller "
            "k makes them exact",
            columns,
            t_window - (columns - 1) * delta,
            1.0 - float(schedule.b),
        )
    density = steps / (columns * delta)
    if initial_steps is None:
        initial_steps = max(1, round(density * (1.0 - t_window)))
    options = dict(
        sampler_kwargs,
        generator=generator,
        callback=callback,
        parameterisation=parameterisation,
        noise=noise,
        cond=cond,
    )

    def run(state: torch.Tensor, grid: list[float]) -> torch.Tensor:
        return sampler(denoiser, state, schedule, grid, **options)

    state = x if t_window >= 1.0 else run(x, _grid(1.0, t_window, initial_steps))
    window = 0
    while True:
        state = run(state, _grid(t_window, t_emit, steps))
        window += 1
        if num_windows is not None and window == num_windows:
            yield run(state, _grid(t_emit, 0.0, max(1, round(density * t_emit))))
            return
        finished = state[..., :columns]
        yield finished
        fresh = draw(white_noise if noise is None else noise, finished, generator)
        state = torch.cat([state[..., columns:], fresh], dim=-1)


__all__ = ["column_step", "sliding_window"]
