"""Precomputed condition embeddings: a table of one vector or one token set per image (∞-Brush's use:
reference-image embeddings of a pre-trained self-supervised encoder, e.g. pathology or satellite tiles).

A table is a safetensors file holding ``embeddings``: ``[N, D]`` (vectors) or ``[N, T, D]`` (token sets),
with metadata ``files`` (a JSON list of the N image paths, relative to the image folder) and ``encoder``
(free text: what made it). Any encoder can write one (:func:`write_table`); ``infd infbrush embed``
computes one from an image folder with a local open_clip checkpoint. Training crops each image of the
folder and conditions it on its row; sampling takes rows of the same or of a new table.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import torch

from infd_core.errors import ConfigError
from infd_infbrush.config import BrushDataConfig
from infd_infbrush.errors import ConditionError
from infd_io.sources import set_epoch

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


def read_table(path: str) -> EmbeddingTable:
    """Read and check a table (one-line :class:`ConditionError` for anything malformed)."""
    from safetensors import SafetensorError, safe_open

    file = Path(path).expanduser()
    if file.suffix != ".safetensors" or not file.is_file():
        raise ConditionError(f"{path}: not an existing .safetensors embedding table")
    try:
        with safe_open(str(file), framework="pt") as handle:
            metadata = handle.metadata() or {}
            names = list(handle.keys())
            if TENSOR not in names:
                raise ConditionError(f"{path}: no {TENSOR!r} tensor (found {', '.join(names)})")
            embeddings = handle.get_tensor(TENSOR)
    except (SafetensorError, OSError) as exc:
        raise ConditionError(f"{path}: not a readable safetensors file ({exc})") from None
    if embeddings.dim() not in (2, 3) or not embeddings.dtype.is_floating_point or len(embeddings) == 0:
        raise ConditionError(
            f"{path}: {TENSOR} must be a float [N, D] or [N, T, D] tensor, got {embeddings.dtype} "
            f"{list(embeddings.shape)}"
        )
    try:
        files = json.loads(metadata.get("files", "null"))
    except ValueError:
        files = None
    if files is not None and (
        not isinstance(files, list)
        or len(files) != len(embeddings)
        or not all(isinstance(f, str) for f in files)
    ):
        raise ConditionError(f"{path}: metadata 'files' must list one path per row ({len(embeddings)})")
    return EmbeddingTable(embeddings.float(), files or [], metadata.get("encoder", ""))


def write_table(path: str | Path, embeddings: torch.Tensor, files: Sequence[str], encoder: str = "") -> Path:
    """Write a table (``files``: one path per row, relative to the image folder)."""
    from safetensors.torch import save_file

    if len(files) != len(embeddings):
        raise ValueError(f"{len(files)} files for {len(embeddings)} embeddings")
    metadata = {"files": json.dumps(list(files)), "encoder": encoder}
    save_file({TENSOR: embeddings.detach().float().contiguous().cpu()}, str(path), metadata=metadata)
    return Path(path)


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
