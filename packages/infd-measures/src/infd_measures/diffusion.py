"""Forward marginals q(x_t | x_0) and posteriors q(x_s | x_t, x_0), standard or mollified (∞-Diff §3.2).

Standard (T = I):  q(x_t | x_0) = N(√ᾱ_t x_0, (1 - ᾱ_t) I).
Mollified (eq. 9): q(x_t | x_0) = N(√ᾱ_t T x_0, (1 - ᾱ_t) T T*), i.e. x_t = √ᾱ_t T x_0 + √(1 - ᾱ_t) T ξ with
white ξ; the network target is the mollified noise T ξ.
Posterior (eq. 10, App. B.1, written for a general earlier time s < t; s = t - 1 in the discrete case):
q(x_s | x_t, x_0) = N(μ̃, β̃ T T*) with ᾱ_{t|s} = ᾱ_t/ᾱ_s, β_{t|s} = 1 - ᾱ_{t|s},
μ̃ = √ᾱ_s β_{t|s}/(1 - ᾱ_t) · T x_0 + √ᾱ_{t|s} (1 - ᾱ_s)/(1 - ᾱ_t) · x_t and β̃ = (1 - ᾱ_s)/(1 - ᾱ_t) · β_{t|s}.
(The x_t coefficient is √α_t as in App. B eq. 22; eq. 10's printed √ᾱ_t and its variance β_t TT* are typos:
only β̃ TT* composes with q(x_t | x_0) to q(x_{t-1} | x_0).)

Grid tensors are ``(B, C, *shape)`` (the mollifier acts on the trailing axes); ``t`` is a step (discrete
schedules) or a time in [0, 1] (continuous ones), scalar or one per batch element.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from infd_core import draws
from infd_measures.discrete import DiscreteSchedule
from infd_measures.errors import ParameterError
from infd_measures.mollifier import GaussianMollifier
from infd_measures.schedules import Schedule

ScheduleLike = Schedule | DiscreteSchedule


@dataclass(frozen=True)
class PosteriorCoefficients:
    """μ̃ = ``coef_x0`` · T x_0 + ``coef_xt`` · x_t, covariance ``variance`` · T T* (float64 tensors)."""

    coef_x0: torch.Tensor
    coef_xt: torch.Tensor
    variance: torch.Tensor


class GaussianDiffusion:
    """The forward process of a (possibly mollified) Gaussian diffusion on grid tensors."""

    def __init__(self, schedule: ScheduleLike, mollifier: GaussianMollifier | None = None) -> None:
        self.schedule = schedule
        self.mollifier = mollifier

    @property
    def discrete(self) -> bool:
        """Whether ``t`` counts steps (a :class:`DiscreteSchedule`)."""
        return isinstance(self.schedule, DiscreteSchedule)

    def mollify(self, x: torch.Tensor) -> torch.Tensor:
        """T x (x itself without a mollifier)."""
        return x if self.mollifier is None else self.mollifier.apply(x)

    @staticmethod
    def _per_sample(coef: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        coef = coef.to(device=x.device, dtype=x.dtype)
        if coef.dim() == 0:
            return coef
        if coef.dim() != 1 or coef.shape[0] != x.shape[0]:
            raise ParameterError(
                f"t must be a scalar or hold one entry per batch element, got {tuple(coef.shape)}"
            )
        return coef.reshape(-1, *([1] * (x.dim() - 1)))

    def marginal(self, x0: torch.Tensor, t: int | float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean √ᾱ_t T x_0 and scale √(1 - ᾱ_t) of q(x_t | x_0) (covariance scale² · T T*)."""
        alpha_bar = self.schedule.alpha_bar(t)
        mean = self._per_sample(alpha_bar.sqrt(), x0) * self.mollify(x0)
        return mean, self._per_sample((1.0 - alpha_bar).sqrt(), x0)

    def sample_marginal(
        self,
        x0: torch.Tensor,
        t: int | float | torch.Tensor,
        generator: torch.Generator,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A draw x_t ~ q(x_t | x_0) and the (mollified) noise T ξ it used."""
        if noise is None:
            noise = draws.randn(x0.shape, generator, dtype=x0.dtype, device=x0.device)
        target = self.mollify(noise)
        mean, scale = self.marginal(x0, t)
        return mean + scale * target, target

    def sample_marginal_at(
        self,
        x0: torch.Tensor,
        t: int | float | torch.Tensor,
        coords: torch.Tensor,
        generator: torch.Generator,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x_t and T ξ read at ``coords (B, M, d)`` for grid data ``x0 (B, C, *shape)``: ``(B, M, C)`` each.

        The white noise ξ is drawn on the whole grid, so at pixel centres this equals :meth:`sample_marginal`.
        """
        if noise is None:
            noise = draws.randn(x0.shape, generator, dtype=x0.dtype, device=x0.device)
        if self.mollifier is None:
            from infd_measures.measures import WhiteNoise

            read = WhiteNoise().mollify_at
        else:
            read = self.mollifier.apply_at
        target, signal = read(noise, coords), read(x0, coords)
        alpha_bar = self.schedule.alpha_bar(_as_time(t))
        signal_scale = self._per_sample(alpha_bar.sqrt(), signal)
        noise_scale = self._per_sample((1.0 - alpha_bar).sqrt(), target)
        return signal_scale * signal + noise_scale * target, target

    def posterior_coefficients(
        self, t: int | float | torch.Tensor, s: int | float | torch.Tensor | None = None
    ) -> PosteriorCoefficients:
        """Coefficients of q(x_s | x_t, x_0); ``s`` defaults to t - 1 for discrete schedules."""
        if s is None:
            if not self.discrete:
                raise ParameterError("continuous schedules need the earlier time s of the posterior")
            s = _as_time(t) - 1
        t_, s_ = _as_time(t), _as_time(s)
        if bool((s_ >= t_).any()) or bool((t_ <= 0).any()):
            raise ParameterError("the posterior needs 0 <= s < t (and t >= 1 for discrete steps)")
        abar_t, abar_s = self.schedule.alpha_bar(t_).double(), self.schedule.alpha_bar(s_).double()
        ratio = abar_t / abar_s
        beta_ts = -torch.expm1(torch.log(abar_t) - torch.log(abar_s))  # 1 - ᾱ_t/ᾱ_s
        one_minus_t = 1.0 - abar_t
        return PosteriorCoefficients(
            coef_x0=abar_s.sqrt() * beta_ts / one_minus_t,
            coef_xt=ratio.sqrt() * (1.0 - abar_s) / one_minus_t,
            variance=(1.0 - abar_s) / one_minus_t * beta_ts,
        )

    def posterior(
        self,
        x_t: torch.Tensor,
        x0: torch.Tensor,
        t: int | float | torch.Tensor,
        s: int | float | torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean μ̃ and scale √β̃ of q(x_s | x_t, x_0) (covariance scale² · T T*)."""
        c = self.posterior_coefficients(t, s)
        mean = self._per_sample(c.coef_x0, x0) * self.mollify(x0) + self._per_sample(c.coef_xt, x_t) * x_t
        return mean, self._per_sample(c.variance.sqrt(), x_t)

    def sample_posterior(
        self,
        x_t: torch.Tensor,
        x0: torch.Tensor,
        t: int | float | torch.Tensor,
        generator: torch.Generator,
        s: int | float | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """A draw x_s = μ̃ + √β̃ T ξ ~ q(x_s | x_t, x_0)."""
        mean, scale = self.posterior(x_t, x0, t, s)
        noise = draws.randn(x_t.shape, generator, dtype=x_t.dtype, device=x_t.device)
        return mean + scale * self.mollify(noise)


def _as_time(t: int | float | torch.Tensor) -> torch.Tensor:
    """Tensors as given; Python ints as steps (int64), Python floats as float64 times."""
    if isinstance(t, torch.Tensor):
        return t
    return torch.as_tensor(t, dtype=torch.int64 if isinstance(t, int) else torch.float64)


__all__ = ["GaussianDiffusion", "PosteriorCoefficients"]
