"""Error types shared by every infd distribution.

Each error carries the exit status the CLI uses for it: 2 for usage errors (bad arguments, bad configs,
unknown names, missing inputs), 1 for failures while running.
"""

from __future__ import annotations


class InfdError(Exception):
    """Base class of all infd errors; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(InfdError):
    """The user asked for something that cannot work as asked (exit status 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A config file or override is malformed or fails validation."""


class UnknownComponentError(UsageError, KeyError):
    """A component name is not registered; the message lists the available names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateComponentError(InfdError):
    """Two plugins registered the same (kind, name)."""


class PluginError(InfdError):
    """A plugin failed to load or returned something malformed."""


class CheckpointError(InfdError):
    """A checkpoint is unsafe, corrupt or incompatible."""


class CheckpointMismatchError(CheckpointError, UsageError):
    """A checkpoint that does not fit the config it is used with: another pipeline, other shapes
    (exit status 2; checked before any output is created)."""

    exit_code = 2


class CheckpointNotFoundError(CheckpointError, UsageError):
    """The checkpoint folder (or its ``config.json``) does not exist (exit status 2)."""

    exit_code = 2


class OutputError(InfdError):
    """An output location cannot be written."""


class DeviceError(UsageError):
    """The requested device does not exist on this machine."""
