"""Inspect a checkpoint's parts, and copy it without some of them (e.g. the optimizer state).

Sampling reads only weights; optimizer state (two tensors per parameter for Adam) is what a training
run needs to resume exactly. A pruned copy keeps the config, the versions that wrote the weights and the
meta, minus the dropped parts' own meta trees, and records what was dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from infd_core.checkpoint_files import read_checkpoint_header, safetensors_index
from infd_core.errors import UsageError
from infd_core.outputs import filesystem

PRUNED_KEY = "pruned_parts"


def checkpoint_summary(url: str) -> dict[str, Any]:
    """Pipeline, step counters, versions and, per part, its tensor count, values and bytes (read from
    the safetensors headers: no tensor is loaded)."""
    header = read_checkpoint_header(url, verify_files=False)  # safetensors_index checks each file below
    parts = {}
    for file_name in sorted(header["files"]):
        index = {k: v for k, v in safetensors_index(url, file_name).items() if k != "__metadata__"}
        parts[file_name.removesuffix(".safetensors")] = {
            "tensors": len(index),
            "values": sum(math.prod(entry["shape"]) for entry in index.values()),
            "bytes": sum(entry["data_offsets"][1] - entry["data_offsets"][0] for entry in index.values()),
        }
    meta = header.get("meta", {})
    return {
        "url": url,
        "pipeline": header.get("config", {}).get("pipeline"),
        "steps": {k: v for k, v in meta.items() if k == "step" or k.endswith("_step")},
        "parts": parts,
        PRUNED_KEY: meta.get(PRUNED_KEY, []),
        "versions": header.get("versions", {}),
    }


def prune_checkpoint(source: str, target: str, drop: Sequence[str], *, overwrite: bool = False) -> list[str]:
    """Write a copy of ``source`` at ``target`` without the parts named in ``drop``; returns the kept parts.

    Resuming training from the copy restarts any optimizer whose state was dropped.
    """
    if not drop:
        raise UsageError("name at least one part to drop (e.g. --drop optimizer)")
    if _location(source) == _location(target):
        raise UsageError(f"{target}: the pruned copy must not replace its source")
    fs, path = filesystem(target)
    if fs.exists(path) and not overwrite:
        raise UsageError(f"{target}: exists; choose another folder or pass --overwrite")
    from infd_core.checkpoints import load_checkpoint, save_checkpoint  # torch, only to copy tensors

    checkpoint = load_checkpoint(source)
    unknown = sorted(set(drop) - set(checkpoint.tensors))
    if unknown:
        have = ", ".join(sorted(checkpoint.tensors))
        raise UsageError(f"{source}: no part {', '.join(unknown)} to drop (parts: {have})")
    kept = {name: state for name, state in checkpoint.tensors.items() if name not in drop}
    if not kept:
        raise UsageError(f"{source}: dropping {', '.join(sorted(drop))} would leave no weights")
    meta = {key: value for key, value in checkpoint.meta.items() if key not in drop}
    meta[PRUNED_KEY] = sorted({*checkpoint.meta.get(PRUNED_KEY, []), *drop})
    save_checkpoint(target, checkpoint.config, kept, meta, versions=checkpoint.versions or None)
    return sorted(kept)


def _location(url: str) -> str:
    fs, path = filesystem(url)
    return f"{type(fs).__name__}:{path.rstrip('/')}"


__all__ = ["PRUNED_KEY", "checkpoint_summary", "prune_checkpoint"]
