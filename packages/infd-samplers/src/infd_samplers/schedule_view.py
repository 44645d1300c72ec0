"""A schedule seen from a sampler: α, σ, β at grid times, shaped to broadcast against the state.

Broadcasting convention. A scalar schedule (standard diffusion) gives one α(t) for the whole state. A
per-component schedule (GUD: ``alpha(t)`` of shape ``(D,)`` for a scalar t) maps its D components onto the
*trailing axes* of the state, flattened row-major: the fewest trailing axes whose sizes multiply to D.
So a GUD state ``(B, C, D)`` uses the last axis, a pixel-basis image ``(B, C, H, W)`` with D = H·W uses the
last two, and anything else is an error naming both shapes. All coefficients are computed in float64.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from infd_measures.discrete import DiscreteSchedule
from infd_samplers.errors import SamplerInputError

TimeValue = int | float


class ScheduleView:
    """The coefficients of ``schedule`` for states shaped like ``like`` (batch first)."""

    def __init__(self, schedule: Any, like: torch.Tensor) -> None:
        if not isinstance(like, torch.Tensor) or like.dim() < 1:
            raise SamplerInputError("the state must be a tensor with a leading batch axis")
        for name in ("alpha", "sigma"):
            if not callable(getattr(schedule, name, None)):
                raise SamplerInputError(f"schedule {schedule!r} has no {name}(t) method")
        self.schedule = schedule
        self.discrete = isinstance(schedule, DiscreteSchedule)
        self.device = like.device
        self.dtype = like.dtype
        self.batch = like.shape[0]
        probe = torch.as_tensor(schedule.alpha(self._time_arg(1 if self.discrete else 0.5)))
        self.component_shape = self._component_shape(probe, like)

    @property
    def num_steps(self) -> int | None:
        """T for a discrete schedule, None for a continuous one."""
        return self.schedule.num_steps if self.discrete else None

    @property
    def per_component(self) -> bool:
        """Whether the schedule has one γ_i(t) per component."""
        return self.component_shape is not None

    @staticmethod
    def _component_shape(probe: torch.Tensor, like: torch.Tensor) -> tuple[int, ...] | None:
        if probe.dim() == 0:
            return None
        if probe.dim() != 1:
            raise SamplerInputError(
                f"a schedule must return a scalar or one value per component for a scalar time, "
                f"got shape {tuple(probe.shape)}"
            )
        size = probe.numel()
        for count in range(1, like.dim()):
            trailing = tuple(like.shape[-count:])
            if math.prod(trailing) == size:
                return trailing
            if math.prod(trailing) > size:
                break
        raise SamplerInputError(
            f"the schedule has {size} components but the state of shape {tuple(like.shape)} has no trailing "
            f"axes of {size} elements (components map onto the trailing axes, batch first)"
        )

    def _time_arg(self, t: TimeValue) -> Any:
        if self.discrete:
            return int(t)
        return torch.tensor(float(t), dtype=torch.float64)

    def _shaped(self, values: Any) -> torch.Tensor:
        values = torch.as_tensor(values, dtype=torch.float64)
        if self.component_shape is not None:
            values = values.reshape(self.component_shape)
        return values.to(self.device)

    def alpha(self, t: TimeValue) -> torch.Tensor:
        """Signal scale α(t) (float64, broadcastable against the state)."""
        return self._shaped(self.schedule.alpha(self._time_arg(t)))

    def sigma(self, t: TimeValue) -> torch.Tensor:
        """Noise scale σ(t) (float64, broadcastable against the state)."""
        return self._shaped(self.schedule.sigma(self._time_arg(t)))

    def require_continuous(self, what: str) -> None:
        """Raise a clear error when the schedule is discrete."""
        if self.discrete:
            raise SamplerInputError(
                f"{what} needs a continuous schedule (times in [0, 1]); use ddpm/ddim for a DiscreteSchedule "
                "or build the schedule in continuous time"
            )

    def beta(self, t: TimeValue) -> torch.Tensor:
        """β(t) = -d log ᾱ/dt of a continuous schedule (float64, broadcastable)."""
        self.require_continuous("β(t)")
        return self._shaped(self.schedule.beta(self._time_arg(t)))

    def cast(self, coefficient: torch.Tensor) -> torch.Tensor:
        """A float64 coefficient in the state's dtype."""
        return coefficient.to(self.dtype)

    def model_time(self, t: TimeValue, batch: int | None = None) -> torch.Tensor:
        """The time handed to the denoiser: one entry per batch element (int64 steps or floats)."""
        size = self.batch if batch is None else batch
        if self.discrete:
            return torch.full((size,), int(t), dtype=torch.long, device=self.device)
        return torch.full((size,), float(t), dtype=self.dtype, device=self.device)


__all__ = ["ScheduleView", "TimeValue"]
