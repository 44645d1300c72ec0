"""CIFAR-10 in its binary format (``data_batch_N.bin``, ``test_batch.bin``): no unpickling.

Each file is a run of records of 3073 bytes: one label byte (0–9) then 3072 pixel bytes, the red, green
and blue 32×32 planes in row-major order. A file whose size is not a whole number of records, or with a
label byte above 9, is refused with a one-line :class:`~infd_core.errors.UsageError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from infd_core.errors import UsageError
from infd_core.outputs import filesystem
from infd_io.transforms import labelled_item

SIDE = 32
PIXEL_BYTES = 3 * SIDE * SIDE
RECORD_BYTES = 1 + PIXEL_BYTES
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


def batch_files(source: str | Sequence[str]) -> list[str]:
    """The batch files of ``source``: one file, a list of files, or a folder's ``data_batch_*.bin``."""
    if not isinstance(source, str):
        return [str(path) for path in source]
    fs, path = filesystem(source)
    try:
        if not fs.exists(path):
            raise UsageError(f"{source}: no such file or folder")
        if not fs.isdir(path):
            return [source]
        found = sorted(fs.glob(f"{path.rstrip('/')}/data_batch_*.bin"))
    except OSError as exc:
        raise UsageError(f"{source}: cannot be listed: {exc.strerror or exc}") from None
    if not found:
        raise UsageError(f"{source}: no data_batch_*.bin files (CIFAR-10 binary version) in this folder")
    protocol = source.split("://", 1)[0] + "://" if "://" in source else ""
    return [protocol + p if protocol and not p.startswith(protocol) else p for p in found]


def read_records(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels ``(N,)`` int64, pixels ``(N, 3, 32, 32)`` uint8) of one CIFAR-10 binary batch file."""
    fs, inner = filesystem(path)
    try:
        data = fs.cat_file(inner)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    name = PurePosixPath(inner).name
    if not data or len(data) % RECORD_BYTES:
        raise UsageError(
            f"{path}: {len(data)} bytes is not a whole number of CIFAR-10 records ({RECORD_BYTES} bytes: "
            f"1 label byte + {PIXEL_BYTES} pixel bytes); {name} is truncated or not a CIFAR-10 binary batch"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    if int(labels.max()) >= len(CIFAR10_CLASSES):
        bad = int(np.argmax(labels >= len(CIFAR10_CLASSES)))
        raise UsageError(
            f"{path}: record {bad} has label byte {int(labels[bad])} (CIFAR-10 labels are 0-9); "
            "not a CIFAR-10 binary batch (CIFAR-100's records have 2 label bytes)"
        )
    return labels, records[:, 1:].reshape(-1, 3, SIDE, SIDE)


class Cifar10Binary(Dataset):
    """The records of one or more CIFAR-10 binary batch files, in file order (all held in memory,
    30 MB per batch of 10 000 images).

    Items: ``{"image": (c, 32, 32) float32 in value_range, "label": int, "index": int}``; one channel
    is the BT.601 luma of the three.
    """

    classes = CIFAR10_CLASSES

    def __init__(
        self,
        source: str | Sequence[str],
        channels: int = 3,
        value_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        if channels not in (1, 3):
            raise UsageError(f"channels must be 1 or 3, got {channels}")
        self.files = batch_files(source)
        if not self.files:
            raise UsageError("no CIFAR-10 batch files given")
        parts = [read_records(path) for path in self.files]
        self.labels = np.concatenate([labels for labels, _ in parts])
        self.pixels = np.concatenate([pixels for _, pixels in parts])
        self.channels = channels
        self.value_range = (float(value_range[0]), float(value_range[1]))

    @classmethod
    def from_config(cls, config: Any) -> Cifar10Binary:
        return cls(config.path, channels=config.channels, value_range=tuple(config.value_range))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        return labelled_item(self.pixels[index], self.labels[index], index, self.channels, self.value_range)
