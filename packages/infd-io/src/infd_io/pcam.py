"""PatchCamelyon (PCam) in its HDF5 files, read with h5py (the optional extra ``infd-io[hdf5]``).

``camelyonpatch_level_2_split_<split>_x.h5`` holds dataset ``x``: ``(N, 96, 96, 3)`` uint8 patches;
``…_y.h5`` holds ``y``: ``(N, 1, 1, 1)`` labels (1: the centre 32×32 region holds tumour tissue).
Patches are read one at a time from the file (the training split is 7 GB); files that h5py cannot open,
or with the wrong datasets, shapes or types, are refused with a one-line
:class:`~infd_core.errors.UsageError`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from infd_core.errors import UsageError
from infd_io.transforms import labelled_item

PCAM_CLASSES: tuple[str, ...] = ("normal", "tumour")


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise UsageError("reading PCam HDF5 files needs h5py: pip install 'infd-io[hdf5]'") from None
    return h5py


def labels_path(x_path: str) -> str | None:
    """The ``…_y.h5`` beside an ``…_x.h5`` file, if it exists."""
    stem, ext = os.path.splitext(x_path)
    if not stem.endswith("_x"):
        return None
    candidate = f"{stem[:-2]}_y{ext}"
    return candidate if os.path.isfile(candidate) else None


def _open(path: str, key: str) -> tuple[Any, Any]:
    h5py = _h5py()
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such file (PCam HDF5 files are read from local paths)")
    try:
        handle = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable HDF5 file ({exc}); truncated or not PCam") from None
    if key not in handle or not isinstance(handle[key], h5py.Dataset):
        found = ", ".join(sorted(handle.keys())) or "nothing"
        handle.close()
        raise UsageError(f"{path}: no dataset {key!r} (found {found}); not a PCam _{key}.h5 file")
    return handle, handle[key]


class PCamHDF5(Dataset):
    """PCam patches of ``x_path`` (dataset ``x``), with labels from ``y_path`` (dataset ``y``; default:
    the ``_y.h5`` beside the ``_x.h5`` file, or no labels). The file stays open for reading.

    Items: ``{"image": (c, H, W) float32 in value_range, "label": int (-1 without labels), "index"}``.
    """

    classes = PCAM_CLASSES

    def __init__(
        self,
        x_path: str,
        y_path: str | None = None,
        channels: int = 3,
        value_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        if channels not in (1, 3):
            raise UsageError(f"channels must be 1 or 3, got {channels}")
        self.x_path, self.channels = str(x_path), channels
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self._file, self._x = _open(self.x_path, "x")
        shape, dtype = tuple(self._x.shape), self._x.dtype
        if len(shape) != 4 or shape[-1] != 3 or dtype != np.uint8 or shape[0] == 0:
            self._file.close()
            raise UsageError(
                f"{self.x_path}: dataset 'x' is {shape} {dtype}; PCam patches are (N, H, W, 3) uint8"
            )
        self.y_path = y_path if y_path is not None else labels_path(self.x_path)
        self.labels = np.full(shape[0], -1, dtype=np.int64)
        if self.y_path is not None:
            self.labels = self._read_labels(self.y_path, shape[0])

    @staticmethod
    def _read_labels(path: str, count: int) -> np.ndarray:
        handle, y = _open(path, "y")
        with handle:
            if y.shape[0] != count or int(np.prod(y.shape[1:], dtype=np.int64)) != 1:
                raise UsageError(f"{path}: dataset 'y' is {tuple(y.shape)}; expected ({count}, 1, 1, 1)")
            try:
                labels = np.asarray(y[...]).reshape(count).astype(np.int64)
            except (OSError, ValueError) as exc:
                raise UsageError(f"{path}: labels cannot be read ({exc}); the file is truncated") from None
        if labels.size and (labels.min() < 0 or labels.max() > 1):
            raise UsageError(f"{path}: labels must be 0 or 1, found {int(labels.min())}..{int(labels.max())}")
        return labels

    @classmethod
    def from_config(cls, config: Any) -> PCamHDF5:
        return cls(config.x, config.y, channels=config.channels, value_range=tuple(config.value_range))

    def __len__(self) -> int:
        return int(self._x.shape[0])

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        try:
            patch = np.asarray(self._x[index])
        except (OSError, ValueError, KeyError) as exc:
            raise UsageError(f"{self.x_path}: patch {index} cannot be read ({exc}); truncated file") from None
        return labelled_item(
            patch.transpose(2, 0, 1), self.labels[index], index, self.channels, self.value_range
        )

    def close(self) -> None:
        self._file.close()
