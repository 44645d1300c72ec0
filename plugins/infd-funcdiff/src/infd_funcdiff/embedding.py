"""Time embedding shared by the neural operators: sinusoidal features of t ∈ [0, 1] and a small MLP."""

from __future__ import annotations

import math

import torch
from torch import nn


class TimeEmbedding(nn.Module):
    """t ``(B,)`` in [0, 1] → ``(B, out)`` through sin/cos features of ``dim`` frequencies and an MLP."""

    def __init__(self, out: int, dim: int = 32) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(2 * dim, out), nn.GELU(), nn.Linear(out, out))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        freqs = torch.exp(torch.linspace(0.0, math.log(1000.0), self.dim, device=t.device, dtype=t.dtype))
        angles = t[:, None] * freqs[None] * math.pi
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=-1))


def split_inputs(x: torch.Tensor, t: torch.Tensor, coords: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Check and broadcast a model call: values ``(B, M, 1)``, times ``(B,)``, coords ``(M, 1)|(B, M, 1)``."""
    from infd_funcdiff.errors import FuncDiffInputError

    if x.dim() != 3 or x.shape[-1] != 1:
        raise FuncDiffInputError(f"operator inputs must be (B, M, 1) values, got {tuple(x.shape)}")
    coords = coords.to(device=x.device, dtype=x.dtype)
    if coords.dim() == 2:
        coords = coords.expand(x.shape[0], *coords.shape)
    if coords.shape != x.shape:
        raise FuncDiffInputError(f"coords {tuple(coords.shape)} do not match values {tuple(x.shape)}")
    t = torch.as_tensor(t, device=x.device, dtype=x.dtype).reshape(-1).expand(x.shape[0])
    return x, t, coords


__all__ = ["TimeEmbedding", "split_inputs"]
