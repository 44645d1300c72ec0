"""Test helper for ``pytest -m gpu``: one ``infd run`` of a small run config on the CUDA device.

Each pipeline's ``tests/test_gpu.py`` passes its tiny CPU test config; the run goes through the CLI in
this process, so it exercises what a user's ``device: cuda`` run does (models, data, generators and
samples on or across devices), and it fails if nothing was allocated on the GPU.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def run_on_cuda(config: Mapping[str, Any], folder: Path) -> Path:
    """Write ``config`` with ``device: cuda`` into ``folder``, run it, check it used the GPU and wrote a
    checkpoint and samples; returns the run's output folder."""
    import torch

    from infd_core.cli.main import run_cli

    output = folder / "cuda-run"
    data = {**config, "device": "cuda", "output": str(output)}
    path = folder / "cuda-run.yaml"
    path.write_text(json.dumps(data))  # JSON is YAML
    allocations = _gpu_allocations(torch)
    status = run_cli(["run", str(path)])
    if status != 0:
        raise AssertionError(f"infd run {path} on CUDA exited {status}")
    if _gpu_allocations(torch) == allocations:
        raise AssertionError("the run allocated nothing on the GPU: it ran on the CPU")
    if not (output / "checkpoint" / "config.json").is_file():
        raise AssertionError(f"no checkpoint in {output}")
    samples = output / "samples"
    if not samples.is_dir() or not any(samples.iterdir()):
        raise AssertionError(f"no samples in {samples}")
    return output


def _gpu_allocations(torch: Any) -> int:
    """How many allocations the CUDA caching allocator has made so far (a cumulative count)."""
    return int(torch.cuda.memory_stats().get("allocation.all.allocated", 0))
