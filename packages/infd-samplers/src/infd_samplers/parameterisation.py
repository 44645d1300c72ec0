"""Conversions between what a denoiser predicts: ε, x₀, v, the score, and ∞-Diff's mollified noise Tξ.

All conversions act in the diffusion's *state space*, where ``x_t = α x₀ + σ n`` with ``α² + σ² = 1``
(variance preserving). ``α`` and ``σ`` broadcast against ``x`` (scalars, one per sample, or one per
component). The noise ``n`` is white (ε) for ordinary diffusion and the mollified noise ``Tξ`` for ∞-Diff
(§3.2, App. B.2), where the state is ``x_t = α T x₀ + σ Tξ``: there the "x₀" of the state space is the
mollified image ``T x₀``, and the "score" is the score preconditioned by the noise covariance,
``TT* ∇ log p_t = -Tξ/σ`` (the quantity the probability-flow ODE and the reverse SDE need with coloured
noise). With that reading ``mollified_eps`` converts exactly like ``eps``; a denoiser predicting the
unmollified x₀ (∞-Diff eq. 32/36) is declared as ``x0`` with a mollifier in :class:`~infd_samplers.Denoiser`.

* ``eps``: ε̂ (or Tξ̂), ``x0 = (x - σ ε̂)/α``;
* ``x0``: x̂₀, ``ε = (x - α x̂₀)/σ``;
* ``v``: v̂ = α ε - σ x₀ (Salimans & Ho), ``x₀ = α x - σ v̂``, ``ε = σ x + α v̂``;
* ``score``: ŝ = ∇ log p_t(x) = -ε/σ;
* ``mollified_eps``: Tξ̂ of ∞-Diff eq. 40, converted as ``eps``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch

from infd_samplers.errors import SamplerInputError

Parameterisation = Literal["eps", "x0", "v", "score", "mollified_eps"]
PARAMETERISATIONS: tuple[str, ...] = ("eps", "x0", "v", "score", "mollified_eps")
Operator = Callable[[torch.Tensor], torch.Tensor]


def check_parameterisation(name: str) -> str:
    """``name`` if it is a known parameterisation, else a :class:`SamplerInputError` listing them."""
    if name not in PARAMETERISATIONS:
        raise SamplerInputError(
            f"unknown parameterisation {name!r}; available: {', '.join(PARAMETERISATIONS)}"
        )
    return name


def to_x0_and_eps(
    prediction: torch.Tensor, parameterisation: str, x: torch.Tensor, alpha: torch.Tensor, sigma: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The state-space estimates (x̂₀, ε̂) implied by ``prediction`` at state ``x``."""
    kind = check_parameterisation(parameterisation)
    if kind in ("eps", "mollified_eps"):
        return (x - sigma * prediction) / alpha, prediction
    if kind == "x0":
        return prediction, (x - alpha * prediction) / sigma
    if kind == "v":
        return alpha * x - sigma * prediction, sigma * x + alpha * prediction
    eps = -sigma * prediction  # score
    return (x - sigma * eps) / alpha, eps


def from_x0_and_eps(
    x0: torch.Tensor, eps: torch.Tensor, parameterisation: str, alpha: torch.Tensor, sigma: torch.Tensor
) -> torch.Tensor:
    """The prediction of ``parameterisation`` that corresponds to the estimates (x̂₀, ε̂)."""
    kind = check_parameterisation(parameterisation)
    if kind in ("eps", "mollified_eps"):
        return eps
    if kind == "x0":
        return x0
    if kind == "v":
        return alpha * eps - sigma * x0
    return -eps / sigma


def convert(
    prediction: torch.Tensor,
    source: str,
    target: str,
    x: torch.Tensor,
    alpha: torch.Tensor,
    sigma: torch.Tensor,
) -> torch.Tensor:
    """Re-express ``prediction`` (of kind ``source``) as the ``target`` kind, at state ``x``."""
    if source == target:
        check_parameterisation(source)
        return prediction
    x0, eps = to_x0_and_eps(prediction, source, x, alpha, sigma)
    return from_x0_and_eps(x0, eps, target, alpha, sigma)


def score_from_eps(eps: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """∇ log p_t = -ε̂/σ (preconditioned by TT* when ε̂ is the mollified noise Tξ̂)."""
    return -eps / sigma


def v_from_x0_and_eps(
    x0: torch.Tensor, eps: torch.Tensor, alpha: torch.Tensor, sigma: torch.Tensor
) -> torch.Tensor:
    """The v target α ε - σ x₀."""
    return alpha * eps - sigma * x0


# -- ∞-Diff App. B.2: the mollified reverse step t -> t-1 ---------------------------------------------------
def _posterior_weights(
    alpha_bar_t: torch.Tensor, alpha_bar_prev: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    beta_t = 1.0 - alpha_bar_t / alpha_bar_prev  # β_t (of the step, also between non-adjacent steps)
    coef_x0 = alpha_bar_prev.sqrt() * beta_t / (1.0 - alpha_bar_t)
    coef_xt = (alpha_bar_t / alpha_bar_prev).sqrt() * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t)
    return beta_t, coef_x0, coef_xt


def mollified_mean_from_x0(
    x_t: torch.Tensor,
    x0: torch.Tensor,
    alpha_bar_t: torch.Tensor,
    alpha_bar_prev: torch.Tensor,
    mollify: Operator | None = None,
) -> torch.Tensor:
    """μ_θ of ∞-Diff eq. 32 (the mean of eq. 36): √ᾱ_{t-1} β_t/(1-ᾱ_t) T x̂₀ + √α_t (1-ᾱ_{t-1})/(1-ᾱ_t) x_t."""
    _, coef_x0, coef_xt = _posterior_weights(alpha_bar_t, alpha_bar_prev)
    mollified = x0 if mollify is None else mollify(x0)
    return coef_x0 * mollified + coef_xt * x_t


def mollified_mean_from_noise(
    x_t: torch.Tensor, noise: torch.Tensor, alpha_bar_t: torch.Tensor, alpha_bar_prev: torch.Tensor
) -> torch.Tensor:
    """μ_θ of ∞-Diff eq. 40 from the predicted mollified noise Tξ̂: (x_t - β_t/√(1-ᾱ_t) Tξ̂)/√α_t."""
    beta_t, _, _ = _posterior_weights(alpha_bar_t, alpha_bar_prev)
    step_alpha = alpha_bar_t / alpha_bar_prev
    return (x_t - beta_t / (1.0 - alpha_bar_t).sqrt() * noise) / step_alpha.sqrt()


__all__ = [
    "PARAMETERISATIONS",
    "Parameterisation",
    "check_parameterisation",
    "convert",
    "from_x0_and_eps",
    "mollified_mean_from_noise",
    "mollified_mean_from_x0",
    "score_from_eps",
    "to_x0_and_eps",
    "v_from_x0_and_eps",
]
