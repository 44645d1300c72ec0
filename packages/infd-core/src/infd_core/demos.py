"""Demo run configs built from a checkpoint that a plugin ships as package data."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

from infd_core.checkpoints import read_checkpoint_header
from infd_core.config_files import with_values


def shipped_checkpoint(package: str) -> str:
    """The checkpoint folder ``demo/checkpoint`` that ``package`` ships as package data."""
    return str(resources.files(package).joinpath("demo", "checkpoint"))


def checkpoint_demo(
    checkpoint: str, output: str, sample: Mapping[str, Any], settings: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The run config stored in ``checkpoint``, set to skip training and sample from it.

    ``sample`` becomes the run's ``sample`` section (its ``checkpoint`` filled in); ``settings`` sets
    further keys of the run config by dotted path, e.g. ``{"config.sampling.steps": 50}``.
    """
    run = read_checkpoint_header(checkpoint)["config"]
    fixed = {
        "output": output,
        "device": "auto",
        "train": {"enabled": False},
        "sample": {**sample, "checkpoint": checkpoint},
    }
    return with_values(run, {**fixed, **(settings or {})})
