"""Errors of infd-io, on top of the shared ones in :mod:`infd_core.errors`.

Store problems (unwritable location, an existing store with another layout) raise
:class:`infd_core.errors.OutputError`; bad arguments raise :class:`infd_core.errors.UsageError`.
"""

from __future__ import annotations

import warnings

from infd_core.errors import UsageError


class TileError(UsageError, ValueError):
    """A tile does not fit its store: index outside the grid, wrong shape or wrong dtype."""


class SkippedFilesWarning(UserWarning):
    """Some files of a dataset folder were skipped (not images, or unreadable); the message counts them."""


def warn_skipped(root: str, skipped: list[tuple[str, str]]) -> None:
    """One warning that counts the skipped files and names the first few with their reasons."""
    if not skipped:
        return
    shown = "; ".join(f"{path}: {reason}" for path, reason in skipped[:3])
    more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
    warnings.warn(
        f"{root}: skipped {len(skipped)} file(s) that are not readable images: {shown}{more}",
        SkippedFilesWarning,
        stacklevel=3,
    )
