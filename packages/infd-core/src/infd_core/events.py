"""Event records passed to the event hooks and to progress callbacks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class TrainStepEvent:
    """One optimisation step finished."""

    pipeline: str
    step: int
    total_steps: int | None
    metrics: Mapping[str, float]
    rank: int = 0


@dataclasses.dataclass(frozen=True)
class TileWrittenEvent:
    """One output tile was written (fully) to a store."""

    url: str
    level: int
    index: tuple[int, ...]
    bounds: tuple[tuple[int, int], ...]
    rank: int = 0


@dataclasses.dataclass(frozen=True)
class CheckpointSavedEvent:
    """A checkpoint folder was written atomically."""

    url: str
    step: int | None


@dataclasses.dataclass(frozen=True)
class ProgressEvent:
    """Progress of a long task: ``step`` of ``total`` (``total`` may be unknown)."""

    task: str
    step: int
    total: int | None = None
    metrics: Mapping[str, Any] = dataclasses.field(default_factory=dict)


#: Libraries report progress through such callbacks; the CLI turns them into bars.
ProgressCallback = Callable[[ProgressEvent], None]
