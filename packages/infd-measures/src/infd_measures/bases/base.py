"""The interface of an orthogonal basis over images of a fixed spatial shape."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from infd_measures._checks import check_shape2d
from infd_measures.errors import ParameterError


class Basis(ABC):
    """An orthogonal change of basis U on images of shape ``(H, W)``; D = H·W components."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape = check_shape2d("shape", shape)

    @property
    def size(self) -> int:
        """D, the number of components per channel."""
        return self.shape[0] * self.shape[1]

    @abstractmethod
    def _forward(self, x: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def _inverse(self, components: torch.Tensor) -> torch.Tensor: ...

    def to_components(self, x: torch.Tensor) -> torch.Tensor:
        """Components ``U x``: ``(..., H, W) -> (..., D)``."""
        if x.dim() < 2 or tuple(x.shape[-2:]) != self.shape:
            raise ParameterError(f"expected images of spatial shape {self.shape}, got shape {tuple(x.shape)}")
        return self._forward(x)

    def from_components(self, components: torch.Tensor) -> torch.Tensor:
        """Images ``Uᵀ c``: ``(..., D) -> (..., H, W)``."""
        if components.dim() < 1 or components.shape[-1] != self.size:
            raise ParameterError(
                f"expected {self.size} components on the last axis, got {tuple(components.shape)}"
            )
        return self._inverse(components)

    def matrix(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """The dense ``(D, D)`` matrix U whose rows are the basis vectors (for tests and small sizes)."""
        eye = torch.eye(self.size, dtype=dtype).reshape(self.size, *self.shape)
        return self.to_components(eye).T.contiguous()

    def frequency(self) -> torch.Tensor:
        """A nominal spatial frequency |k_i| (cycles per image) of each component, for ordering variables."""
        raise ParameterError(f"{type(self).__name__} components have no frequency")

    def columns(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The column j_i of each component and the column count L_i of its group (column-wise schedules)."""
        raise ParameterError(
            f"{type(self).__name__} components have no columns (use the pixel or Haar basis)"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape})"
