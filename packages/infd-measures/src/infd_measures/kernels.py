"""Stationary covariance kernels k(r) of the distance r = |x - x'| (coordinates in [0, 1]^d).

``rbf``: v exp(-r²/(2ℓ²)); ``matern12``: v exp(-r/ℓ) (the exponential kernel);
``matern32``: v (1 + √3 r/ℓ) exp(-√3 r/ℓ); ``matern52``: v (1 + √5 r/ℓ + 5r²/(3ℓ²)) exp(-√5 r/ℓ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from infd_measures._checks import check_positive
from infd_measures.errors import ParameterError

KERNEL_NAMES = ("rbf", "matern12", "matern32", "matern52")


@dataclass(frozen=True)
class StationaryKernel:
    """A named stationary kernel with ``variance`` v > 0 and ``length_scale`` ℓ > 0."""

    name: str
    variance: float = 1.0
    length_scale: float = 0.1

    def __post_init__(self) -> None:
        if self.name not in KERNEL_NAMES:
            raise ParameterError(f"unknown kernel {self.name!r}; available: {', '.join(KERNEL_NAMES)}")
        object.__setattr__(self, "variance", check_positive("variance", self.variance))
        object.__setattr__(self, "length_scale", check_positive("length_scale", self.length_scale))

    def of_distance(self, r: torch.Tensor) -> torch.Tensor:
        """k as a function of the distance ``r`` (any shape)."""
        s = r / self.length_scale
        if self.name == "rbf":
            return self.variance * torch.exp(-0.5 * s**2)
        if self.name == "matern12":
            return self.variance * torch.exp(-s)
        if self.name == "matern32":
            a = math.sqrt(3.0) * s
            return self.variance * (1.0 + a) * torch.exp(-a)
        a = math.sqrt(5.0) * s
        return self.variance * (1.0 + a + a**2 / 3.0) * torch.exp(-a)

    def matrix(self, x1: torch.Tensor, x2: torch.Tensor | None = None) -> torch.Tensor:
        """The Gram matrix ``k(x1_i, x2_j)`` of points ``(..., M, d)`` and ``(..., N, d)``."""
        x2 = x1 if x2 is None else x2
        diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
        return self.of_distance(diff.pow(2).sum(-1).sqrt())


__all__ = ["KERNEL_NAMES", "StationaryKernel"]
