"""Norms used by function-space losses: L²([0, 1]^d) and the Sobolev H¹ norm of 1-D functions.

Values on points are channels-last ``(..., M, C)`` (channels are summed); results have shape ``(...)``.
"""

from __future__ import annotations

import torch

from infd_measures._checks import check_coords
from infd_measures.errors import ParameterError


def _check_values(values: torch.Tensor) -> torch.Tensor:
    if not isinstance(values, torch.Tensor) or values.dim() < 2:
        raise ParameterError("values on points must be a tensor of shape (..., M, C)")
    return values


def l2_squared_norm(values: torch.Tensor) -> torch.Tensor:
    """‖f‖²_L² on [0, 1]^d from values at uniformly spread points: the mean over points of Σ_c f_c²."""
    return _check_values(values).pow(2).sum(-1).mean(-1)


def sobolev_h1_squared_norm(values: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """‖f‖²_H¹ = ∫ f² + ∫ f'² of a 1-D function sampled at ``coords (..., M, 1)`` (any order, M ≥ 2).

    ∫ f² by the trapezoid rule on the sorted points and ∫ f'² by forward differences, Σ (Δf)²/Δx, over
    the sampled interval (the domain is taken to be the span of the points).
    """
    values = _check_values(values)
    x = check_coords(coords, 1)[..., 0]
    if x.shape[-1] < 2:
        raise ParameterError("the Sobolev norm needs at least 2 points")
    if values.shape[-2] != x.shape[-1]:
        raise ParameterError(f"values have {values.shape[-2]} points, coords {x.shape[-1]}")
    batch = torch.broadcast_shapes(values.shape[:-2], x.shape[:-1])
    x = x.expand(*batch, x.shape[-1])
    values = values.expand(*batch, *values.shape[-2:])
    order = torch.argsort(x, dim=-1)
    x = torch.gather(x, -1, order)
    v = torch.gather(values, -2, order.unsqueeze(-1).expand(*order.shape, values.shape[-1]))
    dx = (x[..., 1:] - x[..., :-1]).to(v.dtype)
    if bool((dx <= 0).any()):
        raise ParameterError("the Sobolev norm needs distinct coordinates")
    squares = v.pow(2)
    l2 = (0.5 * (squares[..., 1:, :] + squares[..., :-1, :]) * dx.unsqueeze(-1)).sum(-2)
    grad = ((v[..., 1:, :] - v[..., :-1, :]).pow(2) / dx.unsqueeze(-1)).sum(-2)
    return (l2 + grad).sum(-1)


__all__ = ["l2_squared_norm", "sobolev_h1_squared_norm"]
