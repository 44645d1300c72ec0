"""``infd demo infbrush``: class-conditional samples of the shipped checkpoint at 2× its training size.

The checkpoint in ``demo/checkpoint`` was produced by this project's own ``infd run`` on two built-in
photographs, one class each (the dark ``hubble_deep_field`` and the bright ``immunohistochemistry``);
``demo/TRAINING.md`` records the exact command and config.
"""

from __future__ import annotations

from typing import Any

DEMO_SIZE = 64  # 2× the 32² training crops (the kernels grow with the ratio, and so does the cost)
DEMO_CLASSES = (0, 1, 0, 1)  # one sample per entry, classes cycled
DEMO_GUIDANCE = 3.0


def checkpoint_path() -> str:
    """The shipped checkpoint folder (package data)."""
    from infd_core.demos import shipped_checkpoint

    return shipped_checkpoint("infd_infbrush")


def demo_config() -> dict[str, Any]:
    """The shipped checkpoint's own run config, set to skip training and sample from the checkpoint."""
    from infd_core.demos import checkpoint_demo

    return checkpoint_demo(
        checkpoint_path(),
        output="infd-demo-infbrush",
        sample={"size": [DEMO_SIZE, DEMO_SIZE], "num_samples": len(DEMO_CLASSES), "out": None},
        settings={
            "config.sampling.classes": list(DEMO_CLASSES),
            "config.sampling.guidance_scale": DEMO_GUIDANCE,
        },
    )
