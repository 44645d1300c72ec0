"""Continuous-time variance-preserving noise schedules, t in [0, 1].

Conventions (shared by every schedule of this package, and by the component-wise GUD schedules):

* ``x_t = alpha(t) * x_0 + sigma(t) * eps`` with ``alpha**2 + sigma**2 == 1``;
* ``alpha_bar(t) = alpha(t)**2`` (DDPM's cumulative product ᾱ);
* ``logsnr(t) = log(alpha**2 / sigma**2)`` and ``gamma(t) = -logsnr(t)``, so ``alpha**2 = sigmoid(-gamma)``
  and ``sigma**2 = sigmoid(gamma)``;
* ``beta(t) = -d log(alpha_bar)/dt = sigma**2 * d gamma/dt``, the rate of the VP-SDE
  ``dx = -beta/2 x dt + sqrt(beta) dw``.

Every method takes a scalar or a tensor of any shape (one time per component when given a vector) and
returns a tensor of that shape, computed in float64 and returned in ``t``'s floating dtype (float64 for
Python numbers and integer tensors). Times outside [0, 1] raise :class:`~infd_measures.errors.ParameterError`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import torch

from infd_measures._checks import FloatLike, check_interval, check_positive, check_time

if TYPE_CHECKING:
    from infd_measures.configs import CosineScheduleConfig, LinearScheduleConfig, VPSDEScheduleConfig
    from infd_measures.discrete import DiscreteSchedule


class Schedule(ABC):
    """A continuous-time VP schedule defined by ``gamma(t)`` and ``beta(t)`` (see the module docstring)."""

    @abstractmethod
    def _gamma(self, t: torch.Tensor) -> torch.Tensor:
        """γ(t) for a float64 tensor of valid times."""

    @abstractmethod
    def _beta(self, t: torch.Tensor) -> torch.Tensor:
        """β(t) for a float64 tensor of valid times."""

    def _log_alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.logsigmoid(-self._gamma(t))

    def gamma(self, t: FloatLike) -> torch.Tensor:
        """γ(t) = -logSNR(t)."""
        t64, dtype = check_time(t)
        return self._gamma(t64).to(dtype)

    def logsnr(self, t: FloatLike) -> torch.Tensor:
        """logSNR(t) = log(α²/σ²)."""
        t64, dtype = check_time(t)
        return (-self._gamma(t64)).to(dtype)

    def alpha_bar(self, t: FloatLike) -> torch.Tensor:
        """ᾱ(t) = α(t)² = sigmoid(-γ(t))."""
        t64, dtype = check_time(t)
        return self._log_alpha_bar(t64).exp().to(dtype)

    def alpha(self, t: FloatLike) -> torch.Tensor:
        """Signal scale α(t) = sqrt(ᾱ(t))."""
        t64, dtype = check_time(t)
        return (0.5 * self._log_alpha_bar(t64)).exp().to(dtype)

    def sigma(self, t: FloatLike) -> torch.Tensor:
        """Noise scale σ(t) = sqrt(1 - ᾱ(t)) = sigmoid(γ(t))^½."""
        t64, dtype = check_time(t)
        return torch.sigmoid(self._gamma(t64)).sqrt().to(dtype)

    def beta(self, t: FloatLike) -> torch.Tensor:
        """β(t) = -d log ᾱ / dt = σ² dγ/dt."""
        t64, dtype = check_time(t)
        return self._beta(t64).to(dtype)

    def discretize(self, num_steps: int, max_beta: float = 0.999) -> DiscreteSchedule:
        """The T-step schedule with ᾱ_k = ᾱ(k/T) (β_k clipped at ``max_beta``, as in Nichol & Dhariwal)."""
        from infd_measures.discrete import DiscreteSchedule

        return DiscreteSchedule.from_continuous(self, num_steps, max_beta=max_beta)


class VPSDESchedule(Schedule):
    """VP-SDE (Song et al. 2021): β(t) = β_min + t (β_max - β_min), ᾱ(t) = exp(-∫₀ᵗ β).

    It is also the continuous-time limit of the linear-β DDPM schedule with ``β_min = T β_start`` and
    ``β_max = T β_end`` (see :meth:`from_ddpm_linear`). At t = 0, γ = -inf (no noise).
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0) -> None:
        self.beta_min = check_positive("beta_min", beta_min)
        self.beta_max = check_positive("beta_max", beta_max)

    @classmethod
    def from_ddpm_linear(cls, num_steps: int, beta_start: float, beta_end: float) -> VPSDESchedule:
        """The continuous limit of DDPM's linear β schedule over ``num_steps`` steps."""
        return cls(beta_min=num_steps * beta_start, beta_max=num_steps * beta_end)

    def integrated_beta(self, t: torch.Tensor) -> torch.Tensor:
        """B(t) = ∫₀ᵗ β(s) ds = -log ᾱ(t)."""
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2

    def _log_alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        return -self.integrated_beta(t)

    def _gamma(self, t: torch.Tensor) -> torch.Tensor:
        return torch.log(torch.expm1(self.integrated_beta(t)))  # log((1 - ᾱ)/ᾱ)

    def _beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def __repr__(self) -> str:
        return f"VPSDESchedule(beta_min={self.beta_min}, beta_max={self.beta_max})"


class CosineSchedule(Schedule):
    """Cosine schedule (Nichol & Dhariwal 2021): ᾱ(t) = f(t)/f(0), f(t) = cos²(π/2 · (t + s)/(1 + s)).

    At t = 1, ᾱ = 0 up to rounding (γ very large, β very large): the pure-noise end point.
    """

    def __init__(self, s: float = 0.008) -> None:
        self.s = check_positive("s", s)

    def _theta(self, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * math.pi * (t + self.s) / (1.0 + self.s)

    def _log_alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        theta0 = 0.5 * math.pi * self.s / (1.0 + self.s)
        return 2.0 * torch.log(torch.cos(self._theta(t))) - 2.0 * math.log(math.cos(theta0))

    def _gamma(self, t: torch.Tensor) -> torch.Tensor:
        theta, theta0 = self._theta(t), 0.5 * math.pi * self.s / (1.0 + self.s)
        # 1 - ᾱ = (cos²θ₀ - cos²θ)/cos²θ₀ = sin(θ - θ₀) sin(θ + θ₀)/cos²θ₀ (accurate near t = 0)
        one_minus = torch.sin(theta - theta0) * torch.sin(theta + theta0)
        return torch.log(one_minus) - 2.0 * torch.log(torch.cos(theta))

    def _beta(self, t: torch.Tensor) -> torch.Tensor:
        return math.pi / (1.0 + self.s) * torch.tan(self._theta(t))

    def __repr__(self) -> str:
        return f"CosineSchedule(s={self.s})"


def linear_schedule_from_config(config: LinearScheduleConfig) -> Schedule | DiscreteSchedule:
    """Factory of the ``linear`` schedule: DDPM's discrete linear β, or its continuous limit (VP-SDE)."""
    from infd_measures.discrete import DiscreteSchedule

    if config.continuous:
        return VPSDESchedule.from_ddpm_linear(config.num_steps, config.beta_start, config.beta_end)
    return DiscreteSchedule.linear(config.num_steps, config.beta_start, config.beta_end)


def cosine_schedule_from_config(config: CosineScheduleConfig) -> Schedule | DiscreteSchedule:
    """Factory of the ``cosine`` schedule: continuous when ``num_steps`` is None, else T steps."""
    schedule = CosineSchedule(config.s)
    if config.num_steps is None:
        return schedule
    check_interval("max_beta", config.max_beta, 0.0, 1.0)
    return schedule.discretize(config.num_steps, max_beta=config.max_beta)


def vpsde_schedule_from_config(config: VPSDEScheduleConfig) -> Schedule | DiscreteSchedule:
    """Factory of the ``vp-sde`` schedule: continuous when ``num_steps`` is None, else T steps."""
    schedule = VPSDESchedule(config.beta_min, config.beta_max)
    return schedule if config.num_steps is None else schedule.discretize(config.num_steps)


__all__ = [
    "CosineSchedule",
    "Schedule",
    "VPSDESchedule",
    "cosine_schedule_from_config",
    "linear_schedule_from_config",
    "vpsde_schedule_from_config",
]
