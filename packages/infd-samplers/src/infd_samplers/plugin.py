"""The ``infd`` plugin of infd-samplers: registers the samplers (imports no torch)."""

from __future__ import annotations

from infd_core import ComponentSpec, hookimpl

_FACTORIES = "infd_samplers.factories"
_CONFIGS = "infd_samplers.configs"


def _spec(name: str, factory: str, config: str, description: str) -> ComponentSpec:
    return ComponentSpec(
        name=name, factory=f"{_FACTORIES}:{factory}", config=f"{_CONFIGS}:{config}", description=description
    )


@hookimpl
def infd_samplers() -> list[ComponentSpec]:
    """DDPM, DDIM, probability-flow ODE and reverse SDE (stateless; build(config) binds the options)."""
    return [
        _spec("ddpm", "build_ddpm", "DDPMConfig", "DDPM ancestral sampling, sigma^2 = beta or beta-tilde"),
        _spec("ddim", "build_ddim", "DDIMConfig", "DDIM, eta in [0, 1], any sub-sequence of steps"),
        _spec(
            "pf-ode",
            "build_probability_flow",
            "ProbabilityFlowConfig",
            "probability-flow ODE: Euler, Heun, RK4 or adaptive RK45; per-component schedules",
        ),
        _spec(
            "reverse-sde",
            "build_reverse_sde",
            "ReverseSDEConfig",
            "reverse-time SDE, Euler-Maruyama; per-component schedules",
        ),
    ]
