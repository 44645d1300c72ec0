"""The PCA basis fitted from data (GUD §4.4, App. B): the same U for every colour channel.

The covariance is that of the mean-free data pooled over colour channels (the average of the per-channel
pixel covariances). Its eigenvectors, sorted by decreasing eigenvalue, are the rows of U; each is signed
so that its largest-magnitude entry is positive. Eigenvalues below ``eigenvalue_floor`` × the largest are
raised to that floor (the spectrum of a finite sample ends in round-off noise).
"""

from __future__ import annotations

from typing import Any

import torch

from infd_measures._checks import check_finite, check_positive
from infd_measures.bases.base import Basis
from infd_measures.errors import ParameterError


class PCABasis(Basis):
    """U from a fitted covariance; ``eigenvalues[i]`` is the (floored) variance of component i."""

    def __init__(self, components: torch.Tensor, eigenvalues: torch.Tensor, shape: tuple[int, int]) -> None:
        super().__init__(shape)
        components = torch.as_tensor(components, dtype=torch.float64)
        if components.shape != (self.size, self.size):
            raise ParameterError(
                f"components must be ({self.size}, {self.size}), got {tuple(components.shape)}"
            )
        self.components = components
        self.eigenvalues = torch.as_tensor(eigenvalues, dtype=torch.float64).flatten()

    @classmethod
    def fit(cls, data: torch.Tensor, eigenvalue_floor: float = 1e-6) -> PCABasis:
        """Fit on ``data`` of shape ``(B, H, W)`` or ``(B, C, H, W)`` (B ≥ 2, all finite)."""
        if not isinstance(data, torch.Tensor) or data.dim() not in (3, 4):
            shape = tuple(data.shape) if isinstance(data, torch.Tensor) else type(data).__name__
            raise ParameterError(f"PCA data must be a tensor of shape (B, H, W) or (B, C, H, W), got {shape}")
        if data.shape[0] < 2:
            raise ParameterError("PCA needs at least 2 samples")
        floor = check_positive("eigenvalue_floor", eigenvalue_floor)
        check_finite("PCA fit data", data)
        x = data.to(torch.float64)
        if x.dim() == 3:
            x = x.unsqueeze(1)
        shape = (int(x.shape[-2]), int(x.shape[-1]))
        flat = (x - x.mean(dim=0)).flatten(-2)  # (B, C, D), centred per channel and pixel
        samples = flat.transpose(0, 1).reshape(-1, flat.shape[-1])  # (C * B, D)
        covariance = samples.T @ samples / (flat.shape[0] - 1) / flat.shape[1]
        eigenvalues, vectors = torch.linalg.eigh(covariance)
        order = torch.argsort(eigenvalues, descending=True)
        eigenvalues, vectors = eigenvalues[order], vectors[:, order]
        eigenvalues = eigenvalues.clamp(
            min=floor * float(eigenvalues[0].clamp(min=torch.finfo(x.dtype).tiny))
        )
        peak = vectors.abs().argmax(dim=0)
        signs = torch.sign(vectors[peak, torch.arange(vectors.shape[1])])
        vectors = vectors * torch.where(signs == 0, torch.ones_like(signs), signs)
        return cls(vectors.T.contiguous(), eigenvalues, shape)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(-2) @ self.components.to(device=x.device, dtype=x.dtype).T

    def _inverse(self, components: torch.Tensor) -> torch.Tensor:
        u = self.components.to(device=components.device, dtype=components.dtype)
        return (components @ u).unflatten(-1, self.shape)

    def matrix(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """U (rows are the principal directions)."""
        return self.components.to(dtype).clone()

    @classmethod
    def from_config(cls, config: Any, *, data: torch.Tensor | None = None) -> PCABasis:
        """Build from :class:`~infd_measures.configs.PCABasisConfig` and ``data=`` to fit on."""
        if data is None:
            raise ParameterError("the pca basis is fitted from data: build(config, data=tensor)")
        basis = cls.fit(data, eigenvalue_floor=config.eigenvalue_floor)
        if config.shape is not None and tuple(config.shape) != basis.shape:
            raise ParameterError(f"config shape {tuple(config.shape)} differs from the data's {basis.shape}")
        return basis
