"""Embedding tables as safetensors files: tensor ``embeddings``, metadata ``files`` (a JSON list) and
``encoder`` (text)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

from infd_infbrush.embedding_table import TENSOR, EmbeddingTable, check_layout, checked_table, missing_tensor
from infd_infbrush.errors import ConditionError


def read_safetensors_table(path: str) -> EmbeddingTable:
    """Read and check a local ``.safetensors`` table."""
    from safetensors import SafetensorError, safe_open

    file = Path(path).expanduser()
    if file.suffix != ".safetensors" or not file.is_file():
        raise ConditionError(f"{path}: not an existing .safetensors embedding table")
    try:
        with safe_open(str(file), framework="pt") as handle:
            metadata = handle.metadata() or {}
            names = list(handle.keys())
            if TENSOR not in names:
                raise missing_tensor(path, names)
            embeddings = handle.get_tensor(TENSOR)
    except (SafetensorError, OSError) as exc:
        raise ConditionError(f"{path}: not a readable safetensors file ({exc})") from None
    dtype = embeddings.dtype
    check_layout(path, str(dtype).removeprefix("torch."), dtype.is_floating_point, embeddings.shape)
    try:
        files = json.loads(metadata["files"]) if "files" in metadata else None
    except ValueError:
        files = metadata["files"]  # not JSON: refused as not a list
    return checked_table(path, embeddings, files, metadata.get("encoder"))


def write_safetensors_table(url: str, embeddings: torch.Tensor, files: Sequence[str], encoder: str) -> None:
    """Write a table (atomically: readers see the old file or the new one, never a part)."""
    from safetensors.torch import save

    from infd_core.outputs import write_bytes_atomic

    metadata = {"files": json.dumps(list(files)), "encoder": encoder}
    data = save({TENSOR: embeddings.detach().float().contiguous().cpu()}, metadata=metadata)
    write_bytes_atomic(url, data)
