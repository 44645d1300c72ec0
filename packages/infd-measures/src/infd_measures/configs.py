"""Pydantic configs of the components this package registers (imports no torch)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from infd_core.config import FloatOrInfinity, StrictModel


class _Config(StrictModel):
    model_config = ConfigDict(frozen=True)


# -- schedules --------------------------------------------------------------------------------------------
class LinearScheduleConfig(_Config):
    """DDPM's linear β schedule (T steps), or its continuous limit (VP-SDE, β from T·β_start to T·β_end)."""

    num_steps: int = Field(1000, ge=1, description="number of steps T")
    beta_start: float = Field(1e-4, gt=0, lt=1, description="β_1")
    beta_end: float = Field(0.02, gt=0, lt=1, description="β_T")
    continuous: bool = Field(False, description="return the continuous-time limit, t in [0, 1]")

    @model_validator(mode="after")
    def _ordered(self) -> LinearScheduleConfig:
        if self.beta_end < self.beta_start:
            raise ValueError("beta_end must be >= beta_start")
        return self


class CosineScheduleConfig(_Config):
    """Nichol & Dhariwal's cosine schedule; continuous when ``num_steps`` is null."""

    s: float = Field(0.008, gt=0, description="offset s of f(t) = cos²(π/2 (t + s)/(1 + s))")
    num_steps: int | None = Field(1000, ge=1, description="T steps, or null for continuous time")
    max_beta: float = Field(0.999, gt=0, lt=1, description="clip of the discrete β's")


class VPSDEScheduleConfig(_Config):
    """The VP-SDE of Song et al.: β(t) = β_min + t (β_max - β_min); discrete when ``num_steps`` is set."""

    beta_min: float = Field(0.1, gt=0)
    beta_max: float = Field(20.0, gt=0)
    num_steps: int | None = Field(None, ge=1, description="T steps, or null for continuous time")


class _EndpointConfig(_Config):
    gamma_denoise: float = Field(-7.0, description="γ̃_denoise = -min_i logSNR_i(0)")
    gamma_noise: float | None = Field(
        None, description="γ̃_noise; null: max[3, logit(σ_min²) - min_i log Σ_i] (GUD §5.1)"
    )
    sigma_min: float = Field(0.99, gt=0, lt=1, description="minimal σ_i(1)")

    @field_validator("gamma_denoise", "gamma_noise")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be finite")
        return value


class LinearSoftScheduleConfig(_EndpointConfig):
    """GUD linear soft-conditioning schedule (eqs. 20-21), a = 1/softness."""

    softness: FloatOrInfinity = Field(
        1.0, gt=0, description="softness 1/a > 0; .inf gives a = 0 (no hierarchy)"
    )
    ordering_r: float = Field(
        0.0, ge=0, le=1, description="r: ordering l = (1 - r)(-log Σ) + r(|k| + δ)/κ; 0 for PCA"
    )


class ColumnwiseScheduleConfig(_EndpointConfig):
    """GUD column-wise sequential schedule (eq. 22) in the pixel basis."""

    b: float = Field(0.5, ge=0, lt=1, description="offset scale b in [0, 1); larger is more autoregressive")


class HaarColumnwiseScheduleConfig(_EndpointConfig):
    """GUD Haar level × column schedule (§5.3)."""

    a: float = Field(0.5, ge=0, lt=1, description="level offset scale a in [0, 1)")
    b: float = Field(0.5, ge=0, lt=1, description="column offset scale b in [0, 1)")


# -- measures ---------------------------------------------------------------------------------------------
class WhiteNoiseConfig(_Config):
    """White noise: independent N(0, 1) values at every point (no parameters)."""


class MollifiedNoiseConfig(_Config):
    """N(0, TT*) with T the Gaussian mollifier of ∞-Diff eq. 8."""

    variance: float = Field(1.0, gt=0, description="kernel variance in pixels² of the reference resolution")
    reference_resolution: int | None = Field(
        None, ge=1, description="training resolution the variance refers to; null: pixels of every grid"
    )
    boundary: Literal["reflect", "periodic"] = "reflect"
    truncate: float = Field(4.0, gt=0, description="kernel cut-off in standard deviations")
    ndim: Literal[1, 2] = 2
    grid_shape: tuple[int, ...] | None = Field(None, description="noise grid for sampling at points")

    @field_validator("grid_shape")
    @classmethod
    def _grid(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None and (len(value) not in (1, 2) or any(s < 1 for s in value)):
            raise ValueError("grid_shape must hold 1 or 2 positive sizes")
        return value


class GaussianProcessConfig(_Config):
    """A Gaussian process with a stationary kernel on [0, 1]^d (d = 1, 2)."""

    kernel: Literal["rbf", "matern12", "matern32", "matern52"] = "rbf"
    variance: float = Field(1.0, gt=0)
    length_scale: float = Field(0.1, gt=0, description="in coordinate units of [0, 1]^d")
    jitter: float = Field(1e-8, ge=0, description="diagonal jitter relative to the variance")
    grid_method: Literal["spectral", "cholesky"] = "spectral"
    norm: Literal["l2", "sobolev"] = "l2"


# -- bases ------------------------------------------------------------------------------------------------
class _ShapeConfig(_Config):
    shape: tuple[int, int] = Field((32, 32), description="image shape (H, W)")

    @field_validator("shape")
    @classmethod
    def _positive(cls, value: tuple[int, int]) -> tuple[int, int]:
        if any(s < 1 for s in value):
            raise ValueError("shape must be positive")
        return value


class PixelBasisConfig(_ShapeConfig):
    """The pixel basis (U = I)."""


class FFTBasisConfig(_ShapeConfig):
    """The real orthonormal FFT basis."""


class HaarBasisConfig(_ShapeConfig):
    """The multi-level orthonormal Haar basis (GUD App. D)."""

    levels: int = Field(3, ge=1, description="decomposition levels N (H, W divisible by 2^N)")


class PCABasisConfig(_Config):
    """The PCA basis fitted from data (``build(config, data=...)``)."""

    eigenvalue_floor: float = Field(1e-6, gt=0, description="floor relative to the largest eigenvalue")
    shape: tuple[int, int] | None = Field(None, description="expected (H, W) of the data, if checked")


class PriorConfig(_Config):
    """A GUD prior: isotropic (S = 1) or data-matched (whitening, S² = Σ)."""

    kind: Literal["isotropic", "data"] = "data"
    per_channel: bool = False


__all__ = [
    "ColumnwiseScheduleConfig",
    "CosineScheduleConfig",
    "FFTBasisConfig",
    "GaussianProcessConfig",
    "HaarBasisConfig",
    "HaarColumnwiseScheduleConfig",
    "LinearScheduleConfig",
    "LinearSoftScheduleConfig",
    "MollifiedNoiseConfig",
    "PCABasisConfig",
    "PixelBasisConfig",
    "PriorConfig",
    "VPSDEScheduleConfig",
    "WhiteNoiseConfig",
]
