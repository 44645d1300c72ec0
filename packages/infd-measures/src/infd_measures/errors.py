"""Errors raised by infd-measures (usage errors: the CLI exits with status 2)."""

from __future__ import annotations

from infd_core.errors import UsageError


class ParameterError(UsageError, ValueError):
    """A parameter, time, coordinate set or data array is invalid; the message says which and why."""


__all__ = ["ParameterError"]
