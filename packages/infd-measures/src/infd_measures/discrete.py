"""Discrete T-step noise schedules (DDPM): integer steps k = 0, 1, ..., T.

Conventions: ``betas[k-1]`` is β_k for k = 1..T; ``step_alpha(k) = 1 - β_k`` is DDPM's per-step α_k;
``alpha_bar(k) = ∏_{j ≤ k} (1 - β_j)`` with ``alpha_bar(0) = 1``. As for the continuous schedules,
``alpha(k) = sqrt(alpha_bar(k))`` is the *signal scale* (x_k = alpha x_0 + sigma eps), ``sigma(k)`` the noise
scale, ``logsnr = log(ᾱ/(1 - ᾱ))`` and ``gamma = -logsnr``. Results are float64 tensors of the step shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from infd_measures._checks import check_interval, check_positive
from infd_measures.errors import ParameterError

if TYPE_CHECKING:
    from infd_measures.schedules import Schedule

StepLike = int | torch.Tensor


class DiscreteSchedule:
    """A DDPM schedule of ``num_steps`` steps given by its β's (each in (0, 1))."""

    def __init__(self, betas: torch.Tensor) -> None:
        betas = torch.as_tensor(betas, dtype=torch.float64).flatten()
        if betas.numel() < 1:
            raise ParameterError("a discrete schedule needs at least one step")
        if not bool(torch.isfinite(betas).all()) or bool((betas <= 0).any()) or bool((betas >= 1).any()):
            raise ParameterError("every beta of a discrete schedule must lie in (0, 1)")
        self.betas = betas
        self.num_steps = int(betas.numel())
        log_alpha_bars = torch.cumsum(torch.log1p(-betas), dim=0)
        self.log_alpha_bars = torch.cat([torch.zeros(1, dtype=torch.float64), log_alpha_bars])
        self.alpha_bars = self.log_alpha_bars.exp()

    @classmethod
    def linear(
        cls, num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02
    ) -> DiscreteSchedule:
        """DDPM (Ho et al. 2020): β linearly spaced from ``beta_start`` to ``beta_end``."""
        num_steps = _check_num_steps(num_steps)
        beta_start = check_interval("beta_start", check_positive("beta_start", beta_start), 0.0, 1.0)
        beta_end = check_interval("beta_end", check_positive("beta_end", beta_end), 0.0, 1.0)
        return cls(torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64))

    @classmethod
    def cosine(cls, num_steps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> DiscreteSchedule:
        """Nichol & Dhariwal's cosine schedule with β_k = min(1 - ᾱ(k/T)/ᾱ((k-1)/T), max_beta)."""
        from infd_measures.schedules import CosineSchedule

        return cls.from_continuous(CosineSchedule(s), num_steps, max_beta=max_beta)

    @classmethod
    def from_continuous(cls, schedule: Schedule, num_steps: int, max_beta: float = 0.999) -> DiscreteSchedule:
        """Discretise a continuous schedule: β_k = 1 - ᾱ(k/T)/ᾱ((k-1)/T), clipped at ``max_beta``."""
        num_steps = _check_num_steps(num_steps)
        max_beta = check_interval("max_beta", check_positive("max_beta", max_beta), 0.0, 1.0)
        times = torch.linspace(0.0, 1.0, num_steps + 1, dtype=torch.float64)
        log_ab = schedule._log_alpha_bar(times)
        betas = -torch.expm1(log_ab[1:] - log_ab[:-1])
        return cls(betas.clamp(min=1e-12, max=max_beta))

    # -- per-step quantities ----------------------------------------------------------------------------
    def _steps(self, k: StepLike, *, first: int = 0) -> torch.Tensor:
        steps = torch.as_tensor(k)
        if steps.is_floating_point() or steps.dtype == torch.bool or steps.is_complex():
            raise ParameterError(f"discrete schedules take integer steps, got dtype {steps.dtype}")
        if steps.numel() and (steps.min() < first or steps.max() > self.num_steps):
            raise ParameterError(
                f"step must lie in [{first}, {self.num_steps}], got values in "
                f"[{steps.min().item()}, {steps.max().item()}]"
            )
        return steps.long()

    def alpha_bar(self, k: StepLike) -> torch.Tensor:
        """ᾱ_k (1 at k = 0)."""
        return self.alpha_bars[self._steps(k)]

    def alpha(self, k: StepLike) -> torch.Tensor:
        """Signal scale sqrt(ᾱ_k)."""
        return (0.5 * self.log_alpha_bars[self._steps(k)]).exp()

    def sigma(self, k: StepLike) -> torch.Tensor:
        """Noise scale sqrt(1 - ᾱ_k)."""
        return (-torch.expm1(self.log_alpha_bars[self._steps(k)])).sqrt()

    def beta(self, k: StepLike) -> torch.Tensor:
        """β_k for k in 1..T."""
        return self.betas[self._steps(k, first=1) - 1]

    def step_alpha(self, k: StepLike) -> torch.Tensor:
        """DDPM's per-step α_k = 1 - β_k for k in 1..T."""
        return 1.0 - self.beta(k)

    def logsnr(self, k: StepLike) -> torch.Tensor:
        """log(ᾱ_k/(1 - ᾱ_k)) (+inf at k = 0)."""
        log_ab = self.log_alpha_bars[self._steps(k)]
        return log_ab - torch.log(-torch.expm1(log_ab))

    def gamma(self, k: StepLike) -> torch.Tensor:
        """γ_k = -logSNR_k."""
        return -self.logsnr(k)

    def time(self, k: StepLike) -> torch.Tensor:
        """The continuous time k/T of step k."""
        return self._steps(k).to(torch.float64) / self.num_steps

    def __repr__(self) -> str:
        return f"DiscreteSchedule(num_steps={self.num_steps})"


def _check_num_steps(num_steps: int) -> int:
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ParameterError(f"num_steps must be a positive int, got {num_steps!r}")
    return num_steps


__all__ = ["DiscreteSchedule"]
