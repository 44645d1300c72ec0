"""Helpers running the ``infd`` CLI in-process and writing small ∞-Diff configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from infd_core.cli.main import run_cli


def run_infd(*argv: str, expect: int = 0) -> None:
    status = run_cli(list(argv))
    assert status == expect, f"infd {' '.join(argv)} exited {status}, expected {expect}"


def write_config(path: Path, output: Path, steps: int = 20, **config: object) -> Path:
    data = {
        "pipeline": "inftydiff",
        "seed": 0,
        "device": "cpu",
        "output": str(output),
        "config": {
            "data": {"resolution": 32, "subsampling": 4, "batch_size": 8},
            "optim": {"steps": steps, "log_every": 5},
            "sampling": {"steps": 8},
            **config,
        },
    }
    path.write_text(yaml.safe_dump(data))
    return path


def read_level0(url: Path) -> np.ndarray:
    """Level 0 of an OME-Zarr store written by infd-io, checked to carry NGFF multiscales metadata."""
    import zarr

    group = zarr.open_group(str(url), mode="r")
    multiscales = group.attrs["ome"]["multiscales"]
    assert multiscales[0]["axes"][0]["name"] == "c"
    return np.asarray(group[multiscales[0]["datasets"][0]["path"]])
