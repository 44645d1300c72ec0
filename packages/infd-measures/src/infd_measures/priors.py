"""GUD priors: a basis plus a per-component scale S (GUD §4.1, §4.4).

The diffused state is ``z = S⁻¹ U (x - mean)`` and the prior is N(0, I) in z, i.e. N(mean, Uᵀ S² U) in data
space. *Isotropic*: S = 1 (unwhitened). *Data-matched*: S_i² = Σ_i, the per-component data variance, which
whitens the data (unit variance per component on the fitting data). Σ_i is pooled over colour channels by
default (the same scale for each channel) or kept per channel with ``per_channel=True``.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from infd_measures._checks import check_finite, check_positive
from infd_measures.bases.base import Basis
from infd_measures.errors import ParameterError

PriorKind = Literal["isotropic", "data"]


class ComponentPrior:
    """Basis, data mean ``(C, H, W)``, data variance ``(C or 1, D)`` and scale S ``(C or 1, D)``."""

    def __init__(
        self,
        basis: Basis,
        mean: torch.Tensor,
        data_variance: torch.Tensor,
        scale: torch.Tensor,
        kind: PriorKind,
    ) -> None:
        self.basis = basis
        self.mean = mean.to(torch.float64)
        self.data_variance = data_variance.to(torch.float64)
        self.scale = scale.to(torch.float64)
        self.kind = kind

    @classmethod
    def isotropic(cls, basis: Basis, channels: int = 1) -> ComponentPrior:
        """S = 1, zero mean and (assumed) unit data variance: standard diffusion's N(0, I) prior."""
        ones = torch.ones(1, basis.size, dtype=torch.float64)
        return cls(basis, torch.zeros(channels, *basis.shape, dtype=torch.float64), ones, ones, "isotropic")

    @classmethod
    def fit(
        cls,
        basis: Basis,
        data: torch.Tensor,
        kind: PriorKind = "data",
        *,
        per_channel: bool = False,
        variance_floor: float = 1e-12,
    ) -> ComponentPrior:
        """Estimate mean and Σ_i from ``data`` ``(B, C, H, W)`` or ``(B, H, W)``; S = 1 or sqrt(Σ_i)."""
        if kind not in ("isotropic", "data"):
            raise ParameterError(f"prior kind must be 'isotropic' or 'data', got {kind!r}")
        floor = check_positive("variance_floor", variance_floor)
        if not isinstance(data, torch.Tensor) or data.dim() not in (3, 4) or data.shape[0] < 2:
            raise ParameterError("prior data must be a tensor (B, H, W) or (B, C, H, W) with B >= 2")
        check_finite("prior fit data", data)
        x = data.to(torch.float64)
        x = x.unsqueeze(1) if x.dim() == 3 else x
        mean = x.mean(dim=0)
        components = basis.to_components(x - mean)  # (B, C, D)
        variance = components.pow(2).sum(dim=0) / (x.shape[0] - 1)  # (C, D)
        if not per_channel:
            variance = variance.mean(dim=0, keepdim=True)
        variance = variance.clamp(min=floor)
        scale = variance.sqrt() if kind == "data" else torch.ones_like(variance)
        return cls(basis, mean, variance, scale, kind)

    @property
    def channels(self) -> int:
        """C, the number of colour channels of the mean."""
        return int(self.mean.shape[0])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Data ``(..., C, H, W)`` to the diffused state ``(..., C, D)``."""
        mean = self.mean.to(device=x.device, dtype=x.dtype)
        return self.basis.to_components(x - mean) / self.scale.to(device=x.device, dtype=x.dtype)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The diffused state ``(..., C, D)`` back to data ``(..., C, H, W)``."""
        scale = self.scale.to(device=z.device, dtype=z.dtype)
        return self.basis.from_components(z * scale) + self.mean.to(device=z.device, dtype=z.dtype)

    def sample(
        self, batch: int, generator: torch.Generator, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """``batch`` draws from the prior in data space, ``(batch, C, H, W)``."""
        z = torch.randn(batch, self.channels, self.basis.size, generator=generator, dtype=dtype)
        return self.decode(z)

    def data_log_variance(self) -> torch.Tensor:
        """log Σ_i of the data, pooled over channels: ``(D,)`` (used for ordering variables)."""
        return self.data_variance.mean(dim=0).log()

    def state_log_variance(self) -> torch.Tensor:
        """log of the diffused state's variance Σ_i / S_i², pooled over channels: ``(D,)`` (0 if whitened)."""
        return (self.data_variance / self.scale**2).mean(dim=0).log()

    @classmethod
    def from_config(cls, config: Any, *, basis: Basis, data: torch.Tensor | None = None) -> ComponentPrior:
        """An isotropic prior without data, else one fitted to ``data`` as the config says."""
        if data is None:
            if config.kind == "data":
                raise ParameterError("a data-matched prior is fitted from data: pass data=tensor")
            return cls.isotropic(basis)
        return cls.fit(basis, data, config.kind, per_channel=config.per_channel)

    def __repr__(self) -> str:
        return f"ComponentPrior(kind={self.kind!r}, basis={self.basis!r})"
