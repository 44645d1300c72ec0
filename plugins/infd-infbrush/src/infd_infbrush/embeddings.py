"""Precomputed condition embeddings: a table of one vector or one token set per image (∞-Brush's use:
reference-image embeddings of a pre-trained self-supervised encoder, e.g. pathology or satellite tiles).

A table (:mod:`infd_infbrush.embedding_table`) holds ``embeddings``: ``[N, D]`` (vectors) or
``[N, T, D]`` (token sets), ``files`` (the N image paths, relative to the image folder) and ``encoder``
(free text: what made it), in one of two formats chosen by the name: a ``.safetensors`` file
(:mod:`infd_infbrush.safetensors_table`) or a ``.zarr`` group, local or at an fsspec URL
(:mod:`infd_infbrush.zarr_table`). Any encoder can write one (:func:`write_table`, or the formats
directly); ``infd infbrush embed`` computes one from an image folder with a local open_clip checkpoint.
Training crops each image of the folder and conditions it on its row; sampling takes rows of the same
or of a new table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch

from infd_core.errors import ConfigError
from infd_infbrush.config import BrushDataConfig
from infd_infbrush.embedding_table import EmbeddingTable, check_writable
from infd_infbrush.errors import ConditionError
from infd_io.sources import set_epoch

__all__ = ["EmbeddingBatches", "EmbeddingTable", "read_table", "relative_name", "write_table"]


def table_format(path: str | Path) -> Literal["safetensors", "zarr"]:
    """The format that the name of ``path`` asks for (``.zarr``, ``.safetensors``); others are refused."""
    name = str(path).rstrip("/")
    if name.endswith(".zarr"):
        return "zarr"
    if name.endswith(".safetensors"):
        return "safetensors"
    raise ConditionError(f"{path}: an embedding table is a .safetensors file or a .zarr group")


def read_table(path: str | Path) -> EmbeddingTable:
    """Read and check a table (one-line :class:`ConditionError` for anything malformed)."""
    if table_format(path) == "zarr":
        from infd_infbrush.zarr_table import read_zarr_table

        return read_zarr_table(str(path))
    from infd_infbrush.safetensors_table import read_safetensors_table

    return read_safetensors_table(str(path))


def check_table_target(path: str | Path) -> None:
    """Refuse, before any work, a name that is no table format or a zarr location holding something else."""
    if table_format(path) == "zarr":
        from infd_infbrush.zarr_table import check_replaceable

        check_replaceable(str(path))


def write_table(path: str | Path, embeddings: torch.Tensor, files: Sequence[str], encoder: str = "") -> str:
    """Write a table: zarr where ``path`` ends in ``.zarr``, a safetensors file where it ends in
    ``.safetensors`` (``files``: one path per row, relative to the image folder). Returns ``path``."""
    kind = table_format(path)
    check_writable(embeddings, files)
    if kind == "zarr":
        from infd_infbrush.zarr_table import write_zarr_table

        write_zarr_table(str(path), embeddings, files, encoder)
    else:
        from infd_infbrush.safetensors_table import write_safetensors_table

        write_safetensors_table(str(path), embeddings, files, encoder)
    return str(path)


def relative_name(path: str, root: str) -> str:
    """``path`` of a file found under ``root`` (by infd-io's listing), relative to it."""
    from infd_core.outputs import filesystem

    base = filesystem(root)[1].rstrip("/")
    return path[len(base) + 1 :] if path.startswith(base + "/") else Path(path).name


class EmbeddingBatches:
    """``batches(step) -> (images [B, C, R, R], rows [B])``: crops of the folder's images with the table
    rows of their files; item ``k`` is image ``k mod n`` in epoch ``k // n`` (deterministic by step)."""

    def __init__(self, config: BrushDataConfig, table: EmbeddingTable, seed: int) -> None:
        from infd_io.image_folder import ImageFolderDataset
        from infd_io.patches import MultiScalePatchDataset

        self.config = config
        folder = ImageFolderDataset(config.source)
        side = config.resolution
        self.dataset = MultiScalePatchDataset(folder, side, side, side, seed=seed)
        where = {name: row for row, name in enumerate(table.files)}
        names = [relative_name(f, config.source) for f in folder.files]
        missing = [name for name in names if name not in where]
        if missing:
            raise ConfigError(
                f"data.embeddings: {len(missing)} image(s) of {config.source} have no row in the table, "
                f"e.g. {missing[0]!r} (the table lists {len(table.files)} files)"
            )
        self.rows = torch.tensor([where[name] for name in names])

    def item(self, k: int) -> tuple[torch.Tensor, int]:
        size = len(self.dataset)
        set_epoch(self.dataset, k // size)
        item = self.dataset[k % size]
        return item["patch"], int(self.rows[item["index"]])

    def __call__(self, step: int, samples: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        size = self.config.batch_size
        samples = range(size) if samples is None else samples
        items = [self.item(step * size + int(i)) for i in samples]
        return torch.stack([i for i, _ in items]), torch.tensor([row for _, row in items])
