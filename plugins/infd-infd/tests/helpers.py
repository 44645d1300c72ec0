"""Helpers for the INFD tests: the CLI in-process, small run configs, OME-Zarr reading, tiny CLIP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from infd_core.cli.main import run_cli

#: A randomly initialised open_clip architecture small enough for CPU tests.
TINY_CLIP: dict[str, Any] = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def run_infd(*argv: str, expect: int = 0) -> None:
    status = run_cli(list(argv))
    assert status == expect, f"infd {' '.join(argv)} exited {status}, expected {expect}"


def tiny_config(**overrides: Any) -> dict[str, Any]:
    """An INFD pipeline config sized for a few CPU seconds (sections merged with ``overrides``)."""
    config: dict[str, Any] = {
        "data": {"builtin_resolutions": [32, 64], "num_items": 8, "batch_size": 4},
        "optim": {"steps": 150, "lr": 3e-3, "log_every": 10},
        "latent": {"steps": 150, "batch_size": 8, "lr": 2e-3},
        "sampling": {"steps": 8, "tile_size": 32, "chunk": 16},
    }
    for key, value in overrides.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    return config


def write_config(path: Path, output: Path, **overrides: Any) -> Path:
    # The tiny model trains for 150 steps per stage; the trained weights depend on the seed and on the
    # CPU's rounding (vector width, BLAS kernels, threads), so no test judges a margin of this model's
    # outputs that is not a property of the method (test_layout measures CLIP guidance on an exact prior).
    data = {"pipeline": "infd", "seed": 3, "device": "cpu", "output": str(output)}
    data["config"] = tiny_config(**overrides)
    path.write_text(yaml.safe_dump(data))
    return path


def read_level0(url: Path) -> np.ndarray:
    """Level 0 of an OME-Zarr store, checked to carry NGFF multiscales metadata."""
    import zarr

    group = zarr.open_group(str(url), mode="r")
    multiscales = group.attrs["ome"]["multiscales"]
    assert [a["name"] for a in multiscales[0]["axes"]] == ["c", "y", "x"]
    return np.asarray(group[multiscales[0]["datasets"][0]["path"]])


def save_tiny_clip(path: Path, seed: int = 0) -> Path:
    """A randomly initialised tiny open_clip model saved as safetensors."""
    import open_clip
    from safetensors.torch import save_file

    with torch.random.fork_rng():
        torch.manual_seed(seed)  # open_clip initialises with the global generator
        model = open_clip.CLIP(**TINY_CLIP)
    save_file({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, str(path))
    return path
