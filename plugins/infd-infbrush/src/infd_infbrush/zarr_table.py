"""Embedding tables as zarr groups (format 2 or 3; a local ``*.zarr`` folder or an fsspec URL).

The group holds the array ``embeddings`` (any float dtype, read as float32) and the attributes
``files`` (a list of the N image paths, optional) and ``encoder`` (text). The writer creates the group
with the attribute ``infd_unfinished`` and replaces the attributes by ``files`` and ``encoder`` last, so
a table whose writing was cut short is refused by the reader instead of reading as valid.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from infd_core.errors import InfdError, OutputError
from infd_core.outputs import filesystem
from infd_core.provenance import OutputConflictError
from infd_infbrush.embedding_table import TENSOR, EmbeddingTable, check_layout, checked_table, missing_tensor
from infd_infbrush.errors import ConditionError

logger = logging.getLogger(__name__)

UNFINISHED = "infd_unfinished"
_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, RuntimeError, InfdError)


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).splitlines()[0]


def _open(url: str) -> Any:
    import zarr

    from infd_io.zarr_store import zarr_store

    return zarr.open_group(zarr_store(url, read_only=True), mode="r")


def read_zarr_table(url: str) -> EmbeddingTable:
    """Read and check a zarr table."""
    import zarr

    try:
        group = _open(url)
        attributes = dict(group.attrs)
        members = dict(group.members())
    except _READ_ERRORS as exc:
        raise ConditionError(f"{url}: not a readable zarr group ({_reason(exc)})") from None
    if UNFINISHED in attributes:
        raise ConditionError(
            f"{url}: an unfinished table (its writer stopped before the end); write it again"
        )
    array = members.get(TENSOR)
    if not isinstance(array, zarr.Array):
        raise missing_tensor(
            url, [name if isinstance(node, zarr.Array) else f"{name}/" for name, node in members.items()]
        )
    dtype = np.dtype(array.dtype)
    check_layout(url, dtype.name, bool(np.issubdtype(dtype, np.floating)), array.shape)
    try:
        with np.errstate(over="ignore"):  # float64 beyond float32: inf, refused as non-finite
            values = np.asarray(array[...], dtype=np.float32)
    except _READ_ERRORS as exc:
        raise ConditionError(f"{url}: {TENSOR} cannot be read ({_reason(exc)})") from None
    return checked_table(url, torch.from_numpy(values), attributes.get("files"), attributes.get("encoder"))


def _is_table(url: str) -> bool:
    """Whether ``url`` is a zarr group holding a table's array and nothing else (finished or not)."""
    import zarr

    try:
        members = dict(_open(url).members())
    except _READ_ERRORS:
        return False
    return list(members) == [TENSOR] and isinstance(members[TENSOR], zarr.Array)


def check_replaceable(url: str) -> None:
    """Refuse (one line) to write a table where something other than a table, or a non-empty folder, is."""
    fs, path = filesystem(url)
    try:
        if not fs.exists(path) or (fs.isdir(path) and not fs.ls(path, detail=False)):
            return
    except OSError as exc:
        raise OutputError(f"{url}: cannot be read: {_reason(exc)}") from None
    if not _is_table(url):
        raise OutputConflictError(
            f"{url}: exists and is not an embedding table; infd does not replace it: choose a new location"
        )


def write_zarr_table(url: str, embeddings: torch.Tensor, files: Sequence[str], encoder: str) -> None:
    """Write a zarr (format 3) table at ``url``, replacing a table there but nothing else."""
    import zarr

    from infd_io.zarr_store import zarr_store

    check_replaceable(url)
    values = embeddings.detach().float().contiguous().cpu().numpy()
    try:
        group = zarr.open_group(zarr_store(url), mode="w", attributes={UNFINISHED: True})
        group.create_array(TENSOR, data=values)
        group.attrs.put({"files": list(files), "encoder": encoder})  # last: marks the table complete
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise OutputError(f"{url}: cannot write the table: {_reason(exc)}") from None
    logger.debug("wrote a zarr embedding table %s of shape %s", url, list(values.shape))
