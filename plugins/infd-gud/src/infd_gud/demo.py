"""``infd demo gud``: a strip 32× the training width, generated window by window (GUD §5.2, App. C).

The checkpoint in ``demo/checkpoint`` was produced by this project's own ``infd run`` on the built-in
photographs with a column-wise schedule; ``demo/TRAINING.md`` records the exact command and config.
"""

from __future__ import annotations

from typing import Any

DEMO_HEIGHT = 16  # the training resolution: a strip is as high as the training images
DEMO_WIDTH = 512  # 32× the training width
DEMO_STEPS_PER_WINDOW = 16


def checkpoint_path() -> str:
    """The shipped checkpoint folder (package data)."""
    from infd_core.demos import shipped_checkpoint

    return shipped_checkpoint("infd_gud")


def demo_config() -> dict[str, Any]:
    """The shipped checkpoint's own run config, set to skip training and stream a strip from it."""
    from infd_core.demos import checkpoint_demo

    return checkpoint_demo(
        checkpoint_path(),
        output="infd-demo-gud",
        sample={"size": [DEMO_HEIGHT, DEMO_WIDTH], "out": None},
        settings={
            "config.extension.sampler": "sde",
            "config.extension.steps_per_window": DEMO_STEPS_PER_WINDOW,
        },
    )
