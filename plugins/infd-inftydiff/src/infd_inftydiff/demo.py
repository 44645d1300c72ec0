"""``infd demo``: sample the shipped checkpoint at 4× its training resolution to OME-Zarr + PNG.

The checkpoint in ``demo/checkpoint`` was produced by this project's own ``infd train`` on the
built-in photographs; ``demo/TRAINING.md`` records the exact command and config.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

DEMO_SIZE = 128  # 4× the 32² training resolution
DEMO_STEPS = 50
DEMO_WIENER_EPSILON = 0.2  # the checkpoint was trained with an older default (1e-3) that over-sharpens


def checkpoint_path() -> str:
    """The shipped checkpoint folder (package data)."""
    return str(resources.files("infd_inftydiff").joinpath("demo", "checkpoint"))


def demo_config() -> dict[str, Any]:
    """The shipped checkpoint's own run config, set to skip training and sample from the checkpoint."""
    from infd_core.checkpoints import read_checkpoint_header

    path = checkpoint_path()
    run = dict(read_checkpoint_header(path)["config"])
    config = dict(run.get("config") or {})
    config["sampling"] = {**(config.get("sampling") or {}), "steps": DEMO_STEPS}
    config["diffusion"] = {**(config.get("diffusion") or {}), "wiener_epsilon": DEMO_WIENER_EPSILON}
    return {
        **run,
        "config": config,
        "output": "infd-demo",
        "device": "auto",
        "train": {"enabled": False},
        "sample": {"checkpoint": path, "size": [DEMO_SIZE, DEMO_SIZE], "num_samples": 1, "out": None},
    }
