"""The pixel basis: U = I, components in row-major pixel order."""

from __future__ import annotations

from typing import Any

import torch

from infd_measures.bases.base import Basis


class PixelBasis(Basis):
    """Identity basis; component i is pixel (i // W, i % W)."""

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(-2)

    def _inverse(self, components: torch.Tensor) -> torch.Tensor:
        return components.unflatten(-1, self.shape)

    def frequency(self) -> torch.Tensor:
        """Pixels have no frequency: zeros."""
        return torch.zeros(self.size, dtype=torch.float64)

    def columns(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel column j = i mod W, out of W columns."""
        width = self.shape[1]
        return torch.arange(self.size) % width, torch.full((self.size,), width)

    @classmethod
    def from_config(cls, config: Any) -> PixelBasis:
        """Build from :class:`~infd_measures.configs.PixelBasisConfig`."""
        return cls(tuple(config.shape))
