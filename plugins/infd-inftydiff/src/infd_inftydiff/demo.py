"""``infd demo``: sample the shipped checkpoint at 4× its training resolution to OME-Zarr + PNG.

The checkpoint in ``demo/checkpoint`` was produced by this project's own ``infd train`` on the
built-in photographs; ``demo/TRAINING.md`` records the exact command and config.
"""

from __future__ import annotations

from typing import Any

DEMO_SIZE = 128  # 4× the 32² training resolution
DEMO_STEPS = 50
DEMO_WIENER_EPSILON = 0.2  # the checkpoint was trained with an older default (1e-3) that over-sharpens


def checkpoint_path() -> str:
    """The shipped checkpoint folder (package data)."""
    from infd_core.demos import shipped_checkpoint

    return shipped_checkpoint("infd_inftydiff")


def demo_config() -> dict[str, Any]:
    """The shipped checkpoint's own run config, set to skip training and sample from the checkpoint."""
    from infd_core.demos import checkpoint_demo

    return checkpoint_demo(
        checkpoint_path(),
        output="infd-demo",
        sample={"size": [DEMO_SIZE, DEMO_SIZE], "num_samples": 1, "out": None},
        settings={
            "config.sampling.steps": DEMO_STEPS,
            "config.diffusion.wiener_epsilon": DEMO_WIENER_EPSILON,
        },
    )
