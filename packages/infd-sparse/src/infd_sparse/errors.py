"""Errors of infd-sparse."""

from __future__ import annotations

from infd_core.errors import UsageError


class SparseInputError(UsageError, ValueError):
    """Coordinates, values, kernels or neighbour maps that do not fit together."""
