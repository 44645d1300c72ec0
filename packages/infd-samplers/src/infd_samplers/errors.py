"""Errors raised by infd-samplers."""

from __future__ import annotations

from infd_core.errors import InfdError, UsageError


class SamplerInputError(UsageError, ValueError):
    """A sampler argument is invalid (steps, grid, schedule shape, eta, tolerances, ...)."""


class NonFiniteError(InfdError, FloatingPointError):
    """The denoiser (or a guidance step) produced NaN or inf; ``step`` and ``t`` say where it appeared."""

    def __init__(self, message: str, *, step: int, t: float) -> None:
        super().__init__(message)
        self.step = step
        self.t = t


__all__ = ["NonFiniteError", "SamplerInputError"]
