"""Tiny GUD configs and builders shared by the tests."""

from __future__ import annotations

import copy
from typing import Any

TINY_NETWORK = {"base_channels": 8, "channel_mult": [1, 2], "token_dim": 16, "mixer_blocks": 1,
                "mixer_hidden": 32, "heads": 2, "groups": 4}  # fmt: skip


def tiny_config(**sections: dict[str, Any]) -> dict[str, Any]:
    """A GUD pipeline config small enough for CPU tests; ``sections`` update its parts."""
    config: dict[str, Any] = {
        "data": {"resolution": 16, "channels": 3, "num_items": 32, "fit_items": 96},
        "network": copy.deepcopy(TINY_NETWORK),
        "training": {"steps": 3, "batch_size": 4},
        "sampling": {"steps": 4, "batch_size": 2},
        "likelihood": {"num_images": 1, "steps": 24, "rtol": 1e-3, "atol": 1e-3, "num_probes": 1},
    }
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    return config


def build_pipeline(output: str, seed: int = 0, **sections: dict[str, Any]) -> Any:
    """A GudPipeline through the runner (the installed entry point)."""
    from infd_core.config import resolve_run_config
    from infd_core.runner import Runner

    runner = Runner()
    run = resolve_run_config(
        {"pipeline": "gud", "output": output, "seed": seed, "config": tiny_config(**sections)},
        runner.registry,
    )
    return runner.build(run)


def registry() -> Any:
    from infd_core.plugins import get_plugin_manager

    return get_plugin_manager().registry()
