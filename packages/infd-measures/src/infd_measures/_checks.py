"""Validation helpers shared by the modules of this package (clear errors, early)."""

from __future__ import annotations

import math
from typing import Any

import torch

from infd_measures.errors import ParameterError

FloatLike = float | int | torch.Tensor


def check_positive(name: str, value: float, *, allow_zero: bool = False, allow_inf: bool = False) -> float:
    """``value`` as a float, or a :class:`ParameterError` when it is not (strictly) positive."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number, got {value!r}") from None
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ParameterError(f"{name} must be finite, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ParameterError(f"{name} must be {bound}, got {value}")
    return value


def check_interval(name: str, value: float, low: float, high: float, *, closed_high: bool = False) -> float:
    """``value`` as a float in ``[low, high)`` (or ``[low, high]``), else a :class:`ParameterError`."""
    value = float(value)
    ok = low <= value <= high if closed_high else low <= value < high
    if not ok or math.isnan(value):
        bracket = "]" if closed_high else ")"
        raise ParameterError(f"{name} must lie in [{low}, {high}{bracket}, got {value}")
    return value


def as_float64(t: FloatLike) -> tuple[torch.Tensor, torch.dtype]:
    """``t`` as a float64 tensor, with the floating dtype results should be returned in."""
    if not isinstance(t, torch.Tensor):  # Python numbers: float64 throughout
        return torch.as_tensor(t, dtype=torch.float64), torch.float64
    out_dtype = t.dtype if t.is_floating_point() else torch.float64
    return t.to(torch.float64), out_dtype


def check_time(t: FloatLike) -> tuple[torch.Tensor, torch.dtype]:
    """Continuous diffusion time(s) ``t`` in [0, 1] as float64 (and the dtype to return in)."""
    tensor, out_dtype = as_float64(t)
    if tensor.numel() and (not bool(torch.isfinite(tensor).all()) or tensor.min() < 0 or tensor.max() > 1):
        finite = tensor[torch.isfinite(tensor)]
        span = f"[{finite.min().item():g}, {finite.max().item():g}]" if finite.numel() else "non-finite"
        raise ParameterError(f"diffusion time t must lie in [0, 1] and be finite; got values in {span}")
    return tensor, out_dtype


def check_coords(coords: Any, dim: int | None = None, *, name: str = "coords") -> torch.Tensor:
    """A floating tensor of shape ``(..., M, d)`` with ``d`` in {1, 2} (or ``d == dim``), all finite."""
    if not isinstance(coords, torch.Tensor):
        raise ParameterError(
            f"{name} must be a torch.Tensor of shape (..., M, d), got {type(coords).__name__}"
        )
    if coords.dim() < 2:
        raise ParameterError(
            f"{name} must have shape (..., M, d) with a trailing coordinate axis, "
            f"got shape {tuple(coords.shape)}"
        )
    d = coords.shape[-1]
    allowed = (1, 2) if dim is None else (dim,)
    if d not in allowed:
        want = " or ".join(str(a) for a in allowed)
        raise ParameterError(
            f"{name} must have {want} values per point (last axis), got shape {tuple(coords.shape)}"
        )
    if not coords.is_floating_point():
        raise ParameterError(f"{name} must be a floating tensor, got {coords.dtype}")
    if not bool(torch.isfinite(coords).all()):
        raise ParameterError(f"{name} contains NaN or inf")
    return coords


def check_finite(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` unchanged, or a :class:`ParameterError` when it holds NaN or inf."""
    if not bool(torch.isfinite(tensor).all()):
        raise ParameterError(f"{name} contains NaN or inf values")
    return tensor


def check_shape2d(name: str, shape: Any) -> tuple[int, int]:
    """A spatial shape ``(H, W)`` of positive ints."""
    try:
        height, width = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a pair (height, width), got {shape!r}") from None
    if height < 1 or width < 1:
        raise ParameterError(f"{name} must be positive, got {(height, width)}")
    return height, width
