"""``infd demo funcdiff``: 500 curves from the shipped MoGP checkpoint on a grid 4× denser than training.

The checkpoint in ``demo/checkpoint`` was produced by this project's own ``infd run`` on the MoGP data
of the paper; ``demo/TRAINING.md`` records the exact command and config.
"""

from __future__ import annotations

from typing import Any

DEMO_POINTS = 400  # 4× the 100 points of each training curve
DEMO_SAMPLES = 500  # as in the paper's figures


def checkpoint_path() -> str:
    """The shipped checkpoint folder (package data)."""
    from infd_core.demos import shipped_checkpoint

    return shipped_checkpoint("infd_funcdiff")


def demo_config() -> dict[str, Any]:
    """The shipped checkpoint's own run config, set to skip training and sample from the checkpoint."""
    from infd_core.demos import checkpoint_demo

    return checkpoint_demo(
        checkpoint_path(),
        output="infd-demo-funcdiff",
        sample={"size": [DEMO_POINTS], "num_samples": DEMO_SAMPLES, "out": None},
    )
