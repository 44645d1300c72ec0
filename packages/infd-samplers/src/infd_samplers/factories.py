"""Registry factories: a validated config in, a configured sampler callable out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from infd_samplers.ancestral import ddim, ddpm
from infd_samplers.configs import DDIMConfig, DDPMConfig, ProbabilityFlowConfig, ReverseSDEConfig
from infd_samplers.ode import probability_flow
from infd_samplers.sde import reverse_sde


@dataclass(frozen=True)
class ConfiguredSampler:
    """``function`` with the config's options bound; ``steps`` defaults to the config's."""

    function: Callable[..., torch.Tensor]
    steps: int
    options: Mapping[str, Any] = field(default_factory=dict)

    def __call__(
        self,
        denoiser: Any,
        x: torch.Tensor,
        schedule: Any,
        steps: Any = None,
        *,
        generator: Any = None,
        callback: Any = None,
        guidance: Any = None,
        **overrides: Any,
    ) -> torch.Tensor:
        options = {**self.options, **overrides}
        return self.function(
            denoiser,
            x,
            schedule,
            self.steps if steps is None else steps,
            generator=generator,
            callback=callback,
            guidance=guidance,
            **options,
        )


def _options(config: Any, *names: str) -> dict[str, Any]:
    return {"parameterisation": config.parameterisation, **{n: getattr(config, n) for n in names}}


def build_ddpm(config: DDPMConfig) -> ConfiguredSampler:
    """Factory of ``ddpm``."""
    return ConfiguredSampler(ddpm, config.steps, _options(config, "variance"))


def build_ddim(config: DDIMConfig) -> ConfiguredSampler:
    """Factory of ``ddim``."""
    return ConfiguredSampler(ddim, config.steps, _options(config, "eta"))


def build_probability_flow(config: ProbabilityFlowConfig) -> ConfiguredSampler:
    """Factory of ``pf-ode``."""
    return ConfiguredSampler(
        probability_flow, config.steps, _options(config, "solver", "rtol", "atol", "t_end")
    )


def build_reverse_sde(config: ReverseSDEConfig) -> ConfiguredSampler:
    """Factory of ``reverse-sde``."""
    return ConfiguredSampler(reverse_sde, config.steps, _options(config, "t_end"))


__all__ = ["ConfiguredSampler", "build_ddim", "build_ddpm", "build_probability_flow", "build_reverse_sde"]
