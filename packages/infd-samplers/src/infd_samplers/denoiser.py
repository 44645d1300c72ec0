"""The denoiser contract: ``D(x_t, t, **cond) -> prediction`` with an explicit parameterisation.

:class:`Denoiser` wraps a model and is the one place where preconditioning happens (EDM-style input and
output scaling, the time the model sees, and ∞-Diff's mollification of x₀ predictions). Samplers accept a
:class:`Denoiser` or a plain callable (wrapped with the sampler's ``parameterisation``, default ``eps``).

The model receives ``t`` as a tensor with one entry per batch element (``x.shape[0]``): int64 steps for
discrete schedules, float times in [0, 1] for continuous ones, or whatever ``time_input(t)`` returns
(e.g. ``lambda t: schedule.gamma(t)`` for GUD's γ-vector conditioning).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from infd_samplers.errors import SamplerInputError
from infd_samplers.parameterisation import check_parameterisation, to_x0_and_eps

Model = Callable[..., torch.Tensor]
Operator = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class EDMPreconditioning:
    """Karras et al.'s c_in, c_skip, c_out written for VP states x = α x₀ + σ n (s = σ/α).

    The model sees ``c_in x`` and its output F gives x̂₀ = c_skip x + c_out F with
    c_in = 1/√(σ² + α²σ_d²), c_skip = σ_d² α/(σ² + α²σ_d²), c_out = σ σ_d/√(σ² + α²σ_d²).
    """

    sigma_data: float = 1.0

    def __post_init__(self) -> None:
        if not self.sigma_data > 0:
            raise SamplerInputError(f"sigma_data must be > 0, got {self.sigma_data}")

    def _norm(self, alpha: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return sigma**2 + (alpha * self.sigma_data) ** 2

    def c_in(self, alpha: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self._norm(alpha, sigma).rsqrt()

    def c_skip(self, alpha: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self.sigma_data**2 * alpha / self._norm(alpha, sigma)

    def c_out(self, alpha: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return sigma * self.sigma_data * self._norm(alpha, sigma).rsqrt()


@dataclass(frozen=True)
class Prediction:
    """One denoiser evaluation: the raw output and the state-space estimates x̂₀ and ε̂ it implies."""

    raw: torch.Tensor
    x0: torch.Tensor
    eps: torch.Tensor

    def detach(self) -> Prediction:
        return Prediction(self.raw.detach(), self.x0.detach(), self.eps.detach())


class Denoiser:
    """A model with its parameterisation and preconditioning.

    * ``parameterisation``: ``eps``, ``x0``, ``v``, ``score`` or ``mollified_eps`` (∞-Diff eq. 40);
    * ``mollify``: T, applied to x₀ predictions to give the state-space estimate T x̂₀ (∞-Diff eq. 32/36);
    * ``preconditioning``: e.g. :class:`EDMPreconditioning` (then the combined output is an x₀ estimate,
      so ``parameterisation`` must be ``x0``);
    * ``time_input``: maps the sampler's time tensor to what the model is conditioned on.
    """

    def __init__(
        self,
        model: Model,
        parameterisation: str = "eps",
        *,
        mollify: Operator | None = None,
        preconditioning: EDMPreconditioning | None = None,
        time_input: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if not callable(model):
            raise SamplerInputError(f"the denoiser must be callable, got {type(model).__name__}")
        self.model = model
        self.parameterisation = check_parameterisation(parameterisation)
        if mollify is not None and self.parameterisation != "x0":
            raise SamplerInputError(
                "mollify applies to x0 predictions; other targets live in the state space"
            )
        if preconditioning is not None and self.parameterisation != "x0":
            raise SamplerInputError("preconditioned denoisers predict x0: use parameterisation='x0'")
        self.mollify = mollify
        self.preconditioning = preconditioning
        self.time_input = time_input

    def __call__(self, x: torch.Tensor, t: torch.Tensor, **cond: Any) -> torch.Tensor:
        """The unpreconditioned model, conditioned on ``time_input(t)``."""
        return self.model(x, self._time(t), **cond)

    def _time(self, t: torch.Tensor) -> torch.Tensor:
        return t if self.time_input is None else self.time_input(t)

    def predict(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        alpha: torch.Tensor,
        sigma: torch.Tensor,
        cond: Mapping[str, Any] | None = None,
    ) -> Prediction:
        """Evaluate at state ``x`` and model time ``t`` with α, σ broadcastable against ``x``."""
        cond = dict(cond or {})
        if self.preconditioning is None:
            raw = self.model(x, self._time(t), **cond)
        else:
            pre = self.preconditioning
            out = self.model(pre.c_in(alpha, sigma) * x, self._time(t), **cond)
            raw = pre.c_skip(alpha, sigma) * x + pre.c_out(alpha, sigma) * out
        if not isinstance(raw, torch.Tensor) or raw.shape != x.shape:
            shape = tuple(raw.shape) if isinstance(raw, torch.Tensor) else type(raw).__name__
            raise SamplerInputError(f"the denoiser returned {shape} for a state of shape {tuple(x.shape)}")
        state_prediction = self.mollify(raw) if self.mollify is not None else raw
        x0, eps = to_x0_and_eps(state_prediction, self.parameterisation, x, alpha, sigma)
        return Prediction(raw, x0, eps)

    def __repr__(self) -> str:
        return f"Denoiser({self.model!r}, parameterisation={self.parameterisation!r})"


def as_denoiser(denoiser: Denoiser | Model, parameterisation: str | None = None) -> Denoiser:
    """``denoiser`` as a :class:`Denoiser`; a plain callable gets ``parameterisation`` (default ``eps``)."""
    if isinstance(denoiser, Denoiser):
        if parameterisation is not None and parameterisation != denoiser.parameterisation:
            raise SamplerInputError(
                f"parameterisation={parameterisation!r} conflicts with the Denoiser's "
                f"{denoiser.parameterisation!r}"
            )
        return denoiser
    return Denoiser(denoiser, parameterisation or "eps")


__all__ = ["Denoiser", "EDMPreconditioning", "Model", "Prediction", "as_denoiser"]
