"""A 1-D Fourier neural operator on regular grids (resolution-independent: modes are fixed, the FFT is
normalised so coefficients approximate integrals over [0, 1])."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from infd_funcdiff.embedding import TimeEmbedding, split_inputs
from infd_funcdiff.errors import FuncDiffInputError


class SpectralConv1d(nn.Module):
    """Multiply the lowest ``modes`` Fourier coefficients by learned complex ``width × width`` matrices."""

    def __init__(self, width: int, modes: int) -> None:
        super().__init__()
        self.modes = modes
        scale = 1.0 / (width * width)
        self.weight = nn.Parameter(scale * torch.randn(2, width, width, modes))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        points = v.shape[-1]
        coeffs = torch.fft.rfft(v, norm="forward")
        k = min(self.modes, coeffs.shape[-1])
        weight = torch.complex(self.weight[0, ..., :k], self.weight[1, ..., :k]).to(coeffs.dtype)
        out = torch.zeros_like(coeffs)
        out[..., :k] = torch.einsum("bik,iok->bok", coeffs[..., :k], weight)
        return torch.fft.irfft(out, n=points, norm="forward")


class FNO1d(nn.Module):
    """Lift (u, x) → width, ``layers`` × [spectral + pointwise + time bias, GELU], project → 1.

    Called as ``model(x (B, M, 1), t (B,) in [0, 1], coords=(M, 1) or (B, M, 1))``; points must form a
    regular grid (use the graph neural operator on irregular points).
    """

    def __init__(self, width: int = 32, modes: int = 16, layers: int = 4, projection: int = 128) -> None:
        super().__init__()
        self.lift = nn.Linear(2, width)
        self.time = TimeEmbedding(width)
        self.spectral = nn.ModuleList(SpectralConv1d(width, modes) for _ in range(layers))
        self.pointwise = nn.ModuleList(nn.Conv1d(width, width, 1) for _ in range(layers))
        self.time_bias = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))
        self.project = nn.Sequential(nn.Linear(width, projection), nn.GELU(), nn.Linear(projection, 1))

    @classmethod
    def from_config(cls, config: Any) -> FNO1d:
        return cls(config.width, config.modes, config.layers, config.projection)

    def forward(self, x: torch.Tensor, t: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        x, t, coords = split_inputs(x, t, coords)
        check_regular_grid(coords)
        v = self.lift(torch.cat([x, coords], dim=-1)).transpose(1, 2)  # (B, W, M)
        emb = self.time(t)
        for spectral, pointwise, bias in zip(self.spectral, self.pointwise, self.time_bias, strict=True):
            v = nn.functional.gelu(spectral(v) + pointwise(v) + bias(emb)[..., None])
        return self.project(v.transpose(1, 2))


def check_regular_grid(coords: torch.Tensor) -> None:
    """Raise unless every row of ``coords (B, M, 1)`` is the same evenly spaced, increasing grid."""
    x = coords[..., 0]
    steps = x[:, 1:] - x[:, :-1]
    if x.shape[1] < 2 or not bool((steps > 0).all()):
        raise FuncDiffInputError("the FNO needs at least 2 increasing grid points")
    if not torch.allclose(steps, steps[:, :1].expand_as(steps), rtol=1e-4, atol=1e-7):
        raise FuncDiffInputError("the FNO needs a regular grid; use the graph neural operator (gno)")


__all__ = ["FNO1d", "SpectralConv1d", "check_regular_grid"]
