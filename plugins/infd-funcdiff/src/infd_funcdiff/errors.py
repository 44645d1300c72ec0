"""Error types of infd-funcdiff."""

from __future__ import annotations

from infd_core.errors import UsageError


class FuncDiffInputError(UsageError, ValueError):
    """Bad input to function-space diffusion: coordinates, curves, kernel or sampling arguments."""


__all__ = ["FuncDiffInputError"]
