"""Component-wise noise schedules of GUD (Gerdes et al., §4-5): one γ_i(t) per basis component.

Every schedule here has the form ``γ_i(t) = γ_min,i + (γ_max,i - γ_min,i) τ_i(t)`` with a piecewise-linear
local time ``τ_i(t) = clip01((clip01((t - c_i)/(1 - a)) - c'_i)/(1 - b))``:

* linear soft-conditioning (eqs. 20-21): c = c' = 0, a = b = 0 in τ, so γ_i is linear in t; the
  softness parameter enters the end points γ_min,i, γ_max,i through the ordering variables l_i;
* column-wise sequential (eq. 22): c' = t_i = b (L - 1 - j)/(L - 1) for pixel column j = 0..L-1 (j = 0
  is the left column, denoised first), clipped to [γ_min, γ_max];
* Haar level × column (§5.3): level offset c = a (N - 1 - n)/(N - 1) for level n = 0 (coarsest) .. N-1
  (finest; the coarsest is denoised first) and column offset c' = b (L_n - 1 - j)/(L_n - 1).

The end points follow the paper's rule (eq. 21, with ``gamma_denoise`` γ̃_denoise = -7 and
``gamma_noise`` γ̃_noise = max[3, logit(σ_min²) - min_i log Σ_i], σ_min = 0.99), where Σ_i is the variance of
component i in the diffused (possibly whitened) space. α_i² = sigmoid(-γ_i), σ_i² = sigmoid(γ_i) and
β_i = σ_i² dγ_i/dt, which is 0 wherever γ_i is clipped; at the kinks β takes its value on the active side.
Methods take a scalar or batched time t and return ``t.shape + (D,)``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from infd_core import draws
from infd_measures._checks import check_interval, check_positive, check_time
from infd_measures.errors import ParameterError
from infd_measures.schedules import Schedule

if TYPE_CHECKING:
    from infd_measures.priors import ComponentPrior


def logit(p: float) -> float:
    """log(p / (1 - p)) for p in (0, 1)."""
    return math.log(p) - math.log1p(-p)


def _vector(name: str, value: Any) -> torch.Tensor:
    tensor = torch.as_tensor(value, dtype=torch.float64).flatten()
    if tensor.numel() == 0 or not bool(torch.isfinite(tensor).all()):
        raise ParameterError(f"{name} must be a non-empty vector of finite values")
    return tensor


def ordering_variables(
    log_variance: torch.Tensor, frequency: torch.Tensor | None = None, r: float = 0.0
) -> torch.Tensor:
    """GUD ordering variables l_i = (1 - r)(-log Σ_i) + r(|k_i| + δ)/κ (§5.1).

    κ and δ map the frequencies onto the range of -log Σ_i, so that l spans the same range for every r.
    With r = 0 (the PCA choice) l_i = -log Σ_i. If -log Σ is constant, the frequencies are used unscaled.
    """
    base = -_vector("log_variance", log_variance)
    r = check_interval("r", r, 0.0, 1.0, closed_high=True)
    if r == 0.0:
        return base
    if frequency is None:
        raise ParameterError(
            "ordering with r > 0 needs the components' frequencies |k_i| (FFT or Haar basis)"
        )
    freq = _vector("frequency", frequency)
    if freq.shape != base.shape:
        raise ParameterError(f"frequency has {freq.numel()} entries, log_variance {base.numel()}")
    f_range, b_range = float(freq.max() - freq.min()), float(base.max() - base.min())
    if f_range == 0.0:
        scaled = torch.full_like(freq, float(base.min()))
    elif b_range == 0.0:
        scaled = freq
    else:
        kappa = f_range / b_range
        delta = kappa * float(base.min()) - float(freq.min())
        scaled = (freq + delta) / kappa
    return (1.0 - r) * base + r * scaled


def soft_conditioning_endpoints(
    log_variance: torch.Tensor,
    ordering: torch.Tensor | None = None,
    a: float = 0.0,
    gamma_denoise: float = -7.0,
    gamma_noise: float | None = None,
    sigma_min: float = 0.99,
) -> tuple[torch.Tensor, torch.Tensor]:
    """γ_min,i and γ_max,i of eq. 21: γ̃ + log Σ_i + a(l_i - l_max) resp. a(l_i - l_min).

    ``gamma_noise=None`` applies the paper's rule γ̃_noise = max[3, logit(σ_min²) - min_i log Σ_i]; an explicit
    value must satisfy γ̃_noise ≥ logit(σ_min²) - min_i log Σ_i so that every σ_i(1) ≥ σ_min.
    """
    log_var = _vector("log_variance", log_variance)
    a = check_positive("a (inverse softness)", a, allow_zero=True)
    sigma_min = check_interval("sigma_min", sigma_min, 0.0, 1.0)
    if sigma_min == 0.0:
        raise ParameterError("sigma_min must lie in (0, 1)")
    bound = logit(sigma_min**2) - float(log_var.min())
    if gamma_noise is None:
        gamma_noise = max(3.0, bound)
    elif gamma_noise < bound - 1e-12:
        raise ParameterError(
            f"gamma_noise={gamma_noise} leaves some sigma_i(1) below sigma_min={sigma_min}; "
            f"it must be >= logit(sigma_min^2) - min log Sigma = {bound:.4g}"
        )
    if not gamma_noise > gamma_denoise:
        raise ParameterError(f"gamma_noise ({gamma_noise}) must exceed gamma_denoise ({gamma_denoise})")
    if ordering is None:
        ordering = torch.zeros_like(log_var)
    ordering = _vector("ordering", ordering)
    if ordering.shape != log_var.shape:
        raise ParameterError(f"ordering has {ordering.numel()} entries, log_variance {log_var.numel()}")
    if a == 0.0:  # also covers infinite softness without 0 * inf
        shift_min = shift_max = torch.zeros_like(log_var)
    else:
        shift_min, shift_max = a * (ordering - ordering.max()), a * (ordering - ordering.min())
    return gamma_denoise + log_var + shift_min, gamma_noise + log_var + shift_max


class ComponentwiseSchedule(Schedule):
    """γ_i(t) = γ_min,i + (γ_max,i - γ_min,i) τ_i(t) with the clipped local time of the module docstring."""

    def __init__(
        self,
        gamma_min: torch.Tensor,
        gamma_max: torch.Tensor,
        *,
        level_offset: torch.Tensor | None = None,
        a: float = 0.0,
        column_offset: torch.Tensor | None = None,
        b: float = 0.0,
        log_variance: torch.Tensor | None = None,
    ) -> None:
        self.gamma_min = _vector("gamma_min", gamma_min)
        self.gamma_max = _vector("gamma_max", gamma_max)
        size = self.gamma_min.numel()
        if self.gamma_max.numel() != size or bool((self.gamma_max < self.gamma_min).any()):
            raise ParameterError("gamma_max must have gamma_min's length and be >= gamma_min everywhere")
        self.a = check_interval("a", a, 0.0, 1.0)
        self.b = check_interval("b", b, 0.0, 1.0)
        self.level_offset = self._offsets("level_offset", level_offset, size)
        self.column_offset = self._offsets("column_offset", column_offset, size)
        self.log_variance = (
            torch.zeros(size, dtype=torch.float64)
            if log_variance is None
            else _vector("log_variance", log_variance)
        )
        if self.log_variance.numel() != size:
            raise ParameterError(f"log_variance has {self.log_variance.numel()} entries, expected {size}")

    @staticmethod
    def _offsets(name: str, value: torch.Tensor | None, size: int) -> torch.Tensor:
        if value is None:
            return torch.zeros(size, dtype=torch.float64)
        offsets = _vector(name, value)
        if offsets.numel() != size or bool((offsets < 0).any()) or bool((offsets > 1).any()):
            raise ParameterError(f"{name} must have {size} entries in [0, 1]")
        return offsets

    @property
    def num_components(self) -> int:
        """D, the number of components (per channel)."""
        return self.gamma_min.numel()

    def local_time(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """τ_i(t) and dτ_i/dt for a float64 tensor of times; shapes ``t.shape + (D,)``."""
        t = t.unsqueeze(-1)
        arg1 = (t - self.level_offset) / (1.0 - self.a)
        level_time = arg1.clamp(0.0, 1.0)
        rate = ((arg1 >= 0) & (arg1 <= 1)).to(t.dtype) / (1.0 - self.a)
        arg2 = (level_time - self.column_offset) / (1.0 - self.b)
        tau = arg2.clamp(0.0, 1.0)
        rate = rate * ((arg2 >= 0) & (arg2 <= 1)).to(t.dtype) / (1.0 - self.b)
        return tau, rate

    def _gamma(self, t: torch.Tensor) -> torch.Tensor:
        tau, _ = self.local_time(t)
        return self.gamma_min + (self.gamma_max - self.gamma_min) * tau

    def gamma_rate(self, t: torch.Tensor | float) -> torch.Tensor:
        """dγ_i/dt (0 where γ_i is clipped)."""
        t64, dtype = check_time(t)
        _, rate = self.local_time(t64)
        return ((self.gamma_max - self.gamma_min) * rate).to(dtype)

    def _beta(self, t: torch.Tensor) -> torch.Tensor:
        tau, rate = self.local_time(t)
        gamma = self.gamma_min + (self.gamma_max - self.gamma_min) * tau
        return torch.sigmoid(gamma) * (self.gamma_max - self.gamma_min) * rate

    def data_logsnr(self, t: torch.Tensor | float) -> torch.Tensor:
        """The data-aware log SNR_i(t) = log Σ_i - γ_i(t) of GUD eq. 18 (Σ_i: the state's variance)."""
        gamma = self.gamma(t)
        return (self.log_variance - gamma.to(torch.float64)).to(gamma.dtype)

    def noise(
        self,
        x0: torch.Tensor,
        t: torch.Tensor | float,
        generator: torch.Generator,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward-noise components ``x0`` of shape ``(B, ..., D)`` at times ``t`` (scalar or ``(B,)``)."""
        gamma = self.gamma(torch.as_tensor(t, dtype=torch.float64)).to(x0.dtype)
        if gamma.dim() == 2:  # (B, D) -> (B, 1, ..., 1, D)
            gamma = gamma.reshape(gamma.shape[0], *([1] * (x0.dim() - 2)), gamma.shape[1])
        return noise_components(x0, gamma, generator, noise=noise)

    def __repr__(self) -> str:
        return f"ComponentwiseSchedule(D={self.num_components}, a={self.a}, b={self.b})"


def noise_components(
    x0: torch.Tensor, gamma: torch.Tensor, generator: torch.Generator, noise: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """GUD forward noising x_t = α ⊙ x0 + σ ⊙ ε with α = sigmoid(-γ)^½, σ = sigmoid(γ)^½; returns (x_t, ε).

    ``gamma`` must broadcast against ``x0`` (per component, last axis).
    """
    if noise is None:
        noise = draws.randn(x0.shape, generator, dtype=x0.dtype, device=x0.device)
    alpha, sigma = torch.sigmoid(-gamma).sqrt(), torch.sigmoid(gamma).sqrt()
    return alpha * x0 + sigma * noise, noise


# -- builders ------------------------------------------------------------------------------------------
def linear_soft_schedule(
    log_variance: torch.Tensor,
    ordering: torch.Tensor | None = None,
    softness: float = 1.0,
    gamma_denoise: float = -7.0,
    gamma_noise: float | None = None,
    sigma_min: float = 0.99,
) -> ComponentwiseSchedule:
    """GUD's linear soft-conditioning schedule (eqs. 20-21); a = 1/softness, ``softness=inf`` gives a = 0.

    ``log_variance`` is log Σ_i of the diffused state; ``ordering`` the l_i (default -log Σ_i).
    """
    softness = check_positive("softness", softness, allow_inf=True)
    log_var = _vector("log_variance", log_variance)
    ordering = -log_var if ordering is None else ordering
    gmin, gmax = soft_conditioning_endpoints(
        log_var, ordering, 1.0 / softness, gamma_denoise, gamma_noise, sigma_min
    )
    return ComponentwiseSchedule(gmin, gmax, log_variance=log_var)


def column_offsets(columns: torch.Tensor, num_columns: torch.Tensor | int, b: float) -> torch.Tensor:
    """t_j = b (L - 1 - j)/(L - 1) for 0-based column j of L (0 when L = 1)."""
    cols = torch.as_tensor(columns, dtype=torch.float64)
    total = torch.as_tensor(num_columns, dtype=torch.float64).expand_as(cols)
    if bool((cols < 0).any()) or bool((cols >= total).any()):
        raise ParameterError("column indices must lie in [0, num_columns)")
    span = (total - 1.0).clamp(min=1.0)
    return torch.where(total > 1, b * (total - 1.0 - cols) / span, torch.zeros_like(cols))


def columnwise_schedule(
    columns: torch.Tensor,
    num_columns: int,
    b: float = 0.5,
    log_variance: torch.Tensor | None = None,
    gamma_denoise: float = -7.0,
    gamma_noise: float | None = None,
    sigma_min: float = 0.99,
) -> ComponentwiseSchedule:
    """Column-wise sequential schedule (GUD eq. 22) for components in pixel column ``columns[i]``."""
    b = check_interval("b", b, 0.0, 1.0)
    cols = torch.as_tensor(columns).flatten()
    log_var = torch.zeros(cols.numel(), dtype=torch.float64) if log_variance is None else log_variance
    gmin, gmax = soft_conditioning_endpoints(log_var, None, 0.0, gamma_denoise, gamma_noise, sigma_min)
    offsets = column_offsets(cols, num_columns, b)
    return ComponentwiseSchedule(gmin, gmax, column_offset=offsets, b=b, log_variance=log_var)


def haar_columnwise_schedule(
    levels: torch.Tensor,
    num_levels: int,
    columns: torch.Tensor,
    num_columns: torch.Tensor,
    a: float = 0.5,
    b: float = 0.5,
    log_variance: torch.Tensor | None = None,
    gamma_denoise: float = -7.0,
    gamma_noise: float | None = None,
    sigma_min: float = 0.99,
) -> ComponentwiseSchedule:
    """Haar level × column schedule (GUD §5.3); ``levels`` 0 = coarsest, ``num_columns`` L_n per component."""
    a, b = check_interval("a", a, 0.0, 1.0), check_interval("b", b, 0.0, 1.0)
    lev = torch.as_tensor(levels, dtype=torch.float64).flatten()
    if bool((lev < 0).any()) or bool((lev >= num_levels).any()):
        raise ParameterError("level indices must lie in [0, num_levels)")
    level_offset = a * (num_levels - 1 - lev) / (num_levels - 1) if num_levels > 1 else torch.zeros_like(lev)
    log_var = torch.zeros(lev.numel(), dtype=torch.float64) if log_variance is None else log_variance
    gmin, gmax = soft_conditioning_endpoints(log_var, None, 0.0, gamma_denoise, gamma_noise, sigma_min)
    offsets = column_offsets(torch.as_tensor(columns).flatten(), torch.as_tensor(num_columns).flatten(), b)
    return ComponentwiseSchedule(
        gmin, gmax, level_offset=level_offset, a=a, column_offset=offsets, b=b, log_variance=log_var
    )


# -- registry factories: ``spec.build(config, prior=ComponentPrior)`` -----------------------------------
def _prior_or_fail(prior: ComponentPrior | None, name: str) -> ComponentPrior:
    if prior is None:
        raise ParameterError(f"the {name} schedule is built from a fitted prior: build(config, prior=...)")
    return prior


def linear_soft_from_config(config: Any, *, prior: ComponentPrior | None = None) -> ComponentwiseSchedule:
    """Build ``linear-soft`` from its config and a :class:`~infd_measures.priors.ComponentPrior`."""
    prior = _prior_or_fail(prior, "linear-soft")
    frequency = prior.basis.frequency() if config.ordering_r > 0 else None
    ordering = ordering_variables(prior.data_log_variance(), frequency, config.ordering_r)
    return linear_soft_schedule(
        prior.state_log_variance(), ordering, config.softness, config.gamma_denoise, config.gamma_noise,
        config.sigma_min,
    )  # fmt: skip


def columnwise_from_config(config: Any, *, prior: ComponentPrior | None = None) -> ComponentwiseSchedule:
    """Build ``columnwise`` (pixel basis) from its config and a prior."""
    prior = _prior_or_fail(prior, "columnwise")
    columns, num_columns = prior.basis.columns()
    if bool((num_columns != num_columns.flatten()[0]).any()):
        raise ParameterError("the columnwise schedule needs a basis whose components share one column count")
    return columnwise_schedule(
        columns, int(num_columns.flatten()[0]), config.b, prior.state_log_variance(), config.gamma_denoise,
        config.gamma_noise, config.sigma_min,
    )  # fmt: skip


def haar_columnwise_from_config(config: Any, *, prior: ComponentPrior | None = None) -> ComponentwiseSchedule:
    """Build ``haar-columnwise`` from its config and a prior over a Haar basis."""
    prior = _prior_or_fail(prior, "haar-columnwise")
    levels_of = getattr(prior.basis, "levels_of_components", None)
    if levels_of is None:
        raise ParameterError("the haar-columnwise schedule needs a Haar basis")
    levels, num_levels = levels_of()
    columns, num_columns = prior.basis.columns()
    return haar_columnwise_schedule(
        levels, num_levels, columns, num_columns, config.a, config.b, prior.state_log_variance(),
        config.gamma_denoise, config.gamma_noise, config.sigma_min,
    )  # fmt: skip


__all__ = [
    "ComponentwiseSchedule",
    "column_offsets",
    "columnwise_schedule",
    "haar_columnwise_schedule",
    "linear_soft_schedule",
    "logit",
    "noise_components",
    "ordering_variables",
    "soft_conditioning_endpoints",
]
