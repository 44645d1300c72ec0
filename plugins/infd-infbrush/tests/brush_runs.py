"""Helpers running the ``infd`` CLI in-process with small ∞-Brush configs, and reading its outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from infd_core.cli.main import run_cli

TINY_MODEL: dict[str, Any] = {
    "sparse_channels": 8,
    "kernel_size": 3,
    "grid": {"resolution": 8, "channels": 16},
}


def run_infd(*argv: str, expect: int = 0) -> None:
    status = run_cli(list(argv))
    assert status == expect, f"infd {' '.join(argv)} exited {status}, expected {expect}"


def write_config(path: Path, output: Path, steps: int = 4, **config: Any) -> Path:
    """A tiny CPU-sized ∞-Brush run on 16² crops of a dark and a bright built-in photograph."""
    data = {
        "pipeline": "infbrush",
        "seed": 0,
        "device": "cpu",
        "output": str(output),
        "config": {
            "model": TINY_MODEL,
            "data": {"resolution": 16, "subsampling": 2, "batch_size": 8},
            "optim": {"steps": steps, "log_every": 10, "lr": 5e-3, "ema_decay": 0.95},
            "sampling": {"steps": 10, "batch_size": 6},
            **config,
        },
    }
    path.write_text(yaml.safe_dump(data))
    return path


def read_level0(url: Path) -> np.ndarray:
    """Level 0 of an OME-Zarr store written by infd-io (checked to carry NGFF multiscales metadata)."""
    import zarr

    group = zarr.open_group(str(url), mode="r")
    multiscales = group.attrs["ome"]["multiscales"]
    assert multiscales[0]["axes"][0]["name"] == "c"
    return np.asarray(group[multiscales[0]["datasets"][0]["path"]])
