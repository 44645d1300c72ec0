"""Pydantic configs of the registered samplers (imports no torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from infd_core.config import StrictModel

ParameterisationName = Literal["eps", "x0", "v", "score", "mollified_eps"]
SolverName = Literal["euler", "heun", "rk4", "rk45"]


class _Config(StrictModel):
    model_config = ConfigDict(frozen=True)

    parameterisation: ParameterisationName | None = Field(
        None, description="what the denoiser predicts; null: the Denoiser's own (eps for plain callables)"
    )


class DDPMConfig(_Config):
    """DDPM ancestral sampling (∞-Diff eq. 29: σ² = β or β̃)."""

    steps: int = Field(1000, ge=1, description="number of steps (evenly spaced sub-sequence if < T)")
    variance: Literal["beta_tilde", "beta"] = Field("beta_tilde", description="reverse variance σ_t²")


class DDIMConfig(_Config):
    """DDIM with stochasticity η (0: deterministic, 1: DDPM-like)."""

    steps: int = Field(50, ge=1, description="number of steps")
    eta: float = Field(0.0, ge=0.0, le=1.0, description="η in [0, 1]")


class ProbabilityFlowConfig(_Config):
    """Probability-flow ODE with a fixed-step or adaptive solver."""

    steps: int = Field(100, ge=1, description="grid steps (rk45: sets only the first step)")
    solver: SolverName = Field("heun", description="euler, heun, rk4 or adaptive rk45")
    rtol: float = Field(1e-5, gt=0, description="relative tolerance of rk45")
    atol: float = Field(1e-5, gt=0, description="absolute tolerance of rk45")
    t_end: float = Field(1e-3, ge=0, lt=1, description="final time of the grid")


class ReverseSDEConfig(_Config):
    """Reverse-time SDE, Euler–Maruyama (GUD: dt = 0.01, i.e. 100 steps)."""

    steps: int = Field(100, ge=1, description="number of Euler–Maruyama steps")
    t_end: float = Field(1e-3, ge=0, lt=1, description="final time of the grid")


class LikelihoodConfig(_Config):
    """Log-likelihood through the probability-flow ODE with Hutchinson's trace estimator."""

    steps: int = Field(100, ge=1, description="grid steps (rk45: sets only the first step)")
    probe: Literal["rademacher", "gaussian", "exact"] = Field("rademacher", description="trace probes")
    num_probes: int = Field(1, ge=1, description="probes per sample (GUD: 3)")
    solver: SolverName = Field("rk45", description="ODE solver")
    rtol: float = Field(1e-5, gt=0)
    atol: float = Field(1e-5, gt=0)
    t_min: float = Field(1e-5, ge=0, lt=1, description="start time (≈ 0)")


__all__ = [
    "DDIMConfig",
    "DDPMConfig",
    "LikelihoodConfig",
    "ParameterisationName",
    "ProbabilityFlowConfig",
    "ReverseSDEConfig",
    "SolverName",
]
