"""A dataset of every image under a folder (or fsspec URL), each at its own resolution."""

from __future__ import annotations

import logging
import warnings
from pathlib import PurePosixPath
from typing import Any

import torch
from torch.utils.data import Dataset

from infd_core.errors import UsageError
from infd_core.outputs import filesystem
from infd_io.errors import SkippedFilesWarning, warn_skipped
from infd_io.images import ImageReadError, is_image_name, list_files, probe_image, read_image
from infd_io.transforms import to_value_range

logger = logging.getLogger(__name__)


class ImageFolderDataset(Dataset):
    """PNG, JPEG, WebP and TIFF files under ``root``, recursively, in sorted order.

    Files that are not images or cannot be decoded are skipped and counted in one
    :class:`~infd_io.errors.SkippedFilesWarning` (``skipped`` lists them with their reasons); a file
    that only fails when fully decoded is skipped at that point and replaced by the next readable one.
    ``verify_files`` checks each file's structure up front (reads every file once); without it only
    headers are read.
    Labels come from sub-folders: ``classes`` are the sorted names of the folders directly under
    ``root`` that hold images, and an image's label is the index of the one it lies in (-1 for images
    directly in ``root``).
    Items: ``{"image": (c, h, w) float32 in value_range, "label": int, "index": int, "path": str}``.
    """

    def __init__(
        self,
        root: str,
        channels: int = 3,
        value_range: tuple[float, float] = (-1.0, 1.0),
        verify_files: bool = True,
    ) -> None:
        if channels not in (1, 3):
            raise UsageError(f"channels must be 1 or 3, got {channels}")
        self.root = str(root)
        self.channels = channels
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self._fs, candidates = list_files(self.root)
        self.files: list[str] = []
        self.sizes: list[tuple[int, int]] = []
        self.skipped: list[tuple[str, str]] = []
        for path in candidates:
            if not is_image_name(path):
                self.skipped.append((path, "not an image file"))
                continue
            try:
                self.sizes.append(probe_image(self._fs, path, verify_files))
            except ImageReadError as exc:
                self.skipped.append((path, str(exc)))
                continue
            self.files.append(path)
        warn_skipped(self.root, self.skipped)
        if not self.files:
            raise UsageError(f"{self.root}: no readable images (skipped {len(self.skipped)} files)")
        folders = [self._class_folder(path) for path in self.files]
        self.classes: tuple[str, ...] = tuple(sorted({f for f in folders if f is not None}))
        self.labels = [-1 if f is None else self.classes.index(f) for f in folders]
        self._unreadable: set[int] = set()

    def _class_folder(self, path: str) -> str | None:
        """The first folder of ``path`` below the root, or None for a file directly in the root."""
        base = filesystem(self.root)[1].rstrip("/")
        relative = path[len(base) :].lstrip("/") if path.startswith(base) else PurePosixPath(path).name
        parts = PurePosixPath(relative).parts
        return parts[0] if len(parts) > 1 else None

    @classmethod
    def from_config(cls, config: Any) -> ImageFolderDataset:
        return cls(
            config.root,
            channels=config.channels,
            value_range=tuple(config.value_range),
            verify_files=config.verify_files,
        )

    def __len__(self) -> int:
        return len(self.files)

    def load(self, position: int) -> torch.Tensor:
        """Image ``position`` as (c, h, w) in [0, 1]; raises ImageReadError if it cannot be decoded."""
        return torch.from_numpy(read_image(self._fs, self.files[position], self.channels))

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.files):
            raise IndexError(f"index {index} out of range for {len(self.files)} images")
        for offset in range(len(self.files)):
            position = (index + offset) % len(self.files)
            if position in self._unreadable:
                continue
            try:
                image = self.load(position)
            except ImageReadError as exc:
                self._skip_late(position, str(exc))
                continue
            return {
                "image": to_value_range(image, self.value_range),
                "label": self.labels[position],
                "index": index,
                "path": self.files[position],
            }
        raise UsageError(f"{self.root}: none of the {len(self.files)} images can be decoded")

    def _skip_late(self, position: int, reason: str) -> None:
        self._unreadable.add(position)
        self.skipped.append((self.files[position], reason))
        warnings.warn(
            f"{self.root}: skipped {self.files[position]} ({reason}); "
            f"{len(self.skipped)} file(s) skipped so far",
            SkippedFilesWarning,
            stacklevel=3,
        )
