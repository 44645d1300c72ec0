"""Errors of the GUD pipeline."""

from __future__ import annotations

from infd_core.errors import UsageError


class GudUsageError(UsageError, ValueError):
    """Bad input to the GUD pipeline (exit status 2)."""


class BasisNotFittedError(GudUsageError):
    """The basis / prior statistics are used before they were fitted from data or loaded."""


__all__ = ["BasisNotFittedError", "GudUsageError"]
