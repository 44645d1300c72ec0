"""An embedding table in memory, and the checks every table format shares.

Whatever the file format (:mod:`infd_infbrush.safetensors_table`, :mod:`infd_infbrush.zarr_table`), a
table is an array ``embeddings`` of floats, ``[N, D]`` (one vector per image) or ``[N, T, D]`` (one set
of ``T`` tokens per image), an optional list ``files`` of the N image paths (relative to the image
folder) and free text ``encoder``. The readers hand what they found to these checks, so a malformed
table gives the same one-line :class:`ConditionError` in every format.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from infd_infbrush.errors import ConditionError

TENSOR = "embeddings"


@dataclasses.dataclass(frozen=True)
class EmbeddingTable:
    """``embeddings [N, D]`` or ``[N, T, D]`` float32, one row per file of ``files``."""

    embeddings: torch.Tensor
    files: list[str]
    encoder: str = ""

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[-1])

    def rows(self, count: int) -> torch.Tensor:
        """Rows ``0, 1, …`` cycled to ``count`` conditions."""
        return self.embeddings[torch.arange(count) % len(self.embeddings)]


def missing_tensor(path: str, found: Sequence[str]) -> ConditionError:
    """The error of a table without its ``embeddings`` array (``found``: what it holds instead)."""
    return ConditionError(f"{path}: no {TENSOR!r} array (found {', '.join(found) or 'nothing'})")


def check_layout(path: str, dtype: str, floating: bool, shape: Sequence[int]) -> None:
    """Check the array's kind before its values are read: float, ``[N, D]`` or ``[N, T, D]``, not empty."""
    if len(shape) not in (2, 3) or not floating:
        raise ConditionError(
            f"{path}: {TENSOR} must be a float [N, D] or [N, T, D] array, got {dtype} {list(shape)}"
        )
    if 0 in shape:
        raise ConditionError(f"{path}: {TENSOR} is empty ({list(shape)})")


def checked_files(path: str, files: object, rows: int) -> list[str]:
    """``files`` as a list of ``rows`` distinct paths (``None``: the table names no files)."""
    if files is None:
        return []
    if not isinstance(files, list) or len(files) != rows or not all(isinstance(f, str) for f in files):
        raise ConditionError(f"{path}: 'files' must list one path per row ({rows})")
    seen: set[str] = set()
    for name in files:
        if name in seen:
            raise ConditionError(f"{path}: 'files' lists {name!r} twice")
        seen.add(name)
    return files


def checked_table(path: str, embeddings: torch.Tensor, files: object, encoder: object) -> EmbeddingTable:
    """The table of checked parts: ``embeddings`` (already through :func:`check_layout`) in float32 and
    finite, ``files`` (:func:`checked_files`), ``encoder`` text (``None``: unnamed)."""
    values = embeddings.float()
    bad = (~torch.isfinite(values)).flatten(1).any(1).nonzero()
    if len(bad):
        raise ConditionError(
            f"{path}: {TENSOR} holds non-finite values (NaN or ±inf in float32), first in row {int(bad[0])}"
        )
    if encoder is not None and not isinstance(encoder, str):
        raise ConditionError(f"{path}: 'encoder' must be text, got {type(encoder).__name__}")
    return EmbeddingTable(values, checked_files(path, files, len(values)), encoder or "")


def check_writable(embeddings: torch.Tensor, files: Sequence[str]) -> None:
    """What a writer refuses before writing anything: a table its readers would refuse."""
    dtype = str(embeddings.dtype).removeprefix("torch.")
    check_layout("write_table", dtype, not embeddings.is_complex(), embeddings.shape)
    if len(files) != len(embeddings):
        raise ValueError(f"{len(files)} files for {len(embeddings)} embeddings")
    checked_table("write_table", embeddings.detach(), list(files), "")
