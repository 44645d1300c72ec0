"""Errors of the ∞-Brush plugin (infd_core error classes, so the CLI exits with status 2)."""

from __future__ import annotations

from infd_core.errors import UsageError


class ConditionError(UsageError, ValueError):
    """A condition that does not fit the model: wrong dimension, wrong kind, malformed token set."""


class EncoderError(UsageError):
    """A user-supplied condition encoder that is missing, not local safetensors, or does not fit."""


class GuidanceError(UsageError, ValueError):
    """A classifier-free guidance setting that cannot work (e.g. a negative scale)."""
