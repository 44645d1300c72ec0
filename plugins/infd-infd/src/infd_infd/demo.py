"""``infd demo infd``: four samples of the shipped checkpoint rendered at 512², 8× their feature grid.

The checkpoint in ``demo/checkpoint`` was produced by this project's own ``infd run`` on the built-in
photographs; ``demo/TRAINING.md`` records the exact command and config. Each latent is sampled once and
its neural field rendered tile by tile into an OME-Zarr store with a pyramid (open it in napari), plus a
PNG preview.
"""

from __future__ import annotations

from typing import Any

DEMO_SIZE = 512  # the fields are 64² feature maps; training saw renders of up to 128²
DEMO_SAMPLES = 4
DEMO_TILE = 256  # tile = zarr shard; each tile is rendered with its halo and cropped


def checkpoint_path() -> str:
    """The shipped checkpoint folder (package data)."""
    from infd_core.demos import shipped_checkpoint

    return shipped_checkpoint("infd_infd")


def demo_config() -> dict[str, Any]:
    """The shipped checkpoint's own run config, set to skip training and sample from the checkpoint."""
    from infd_core.demos import checkpoint_demo

    return checkpoint_demo(
        checkpoint_path(),
        output="infd-demo-infd",
        sample={"size": [DEMO_SIZE, DEMO_SIZE], "num_samples": DEMO_SAMPLES, "out": None},
        settings={"config.sampling.tile_size": DEMO_TILE},
    )
