"""1-D function datasets: one curve per item, as coordinates + values, from NPZ or CSV files.

* NPZ: an array of coordinates (``x_key``, shape ``(n,)`` shared by all curves or ``(curves, n)``)
  and one or more value arrays (``y_keys``, each ``(curves, n)``). Pickled objects are refused.
* CSV: a header row, then one row per point with a curve column, a coordinate column and value
  columns; curves may have different numbers of points and keep their first-appearance order.
"""

from __future__ import annotations

import csv
import io
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from infd_core.errors import UsageError
from infd_core.outputs import filesystem


def _read_bytes(path: str) -> bytes:
    fs, fs_path = filesystem(path)
    try:
        return fs.cat_file(fs_path)
    except (FileNotFoundError, OSError) as exc:
        raise UsageError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None


def _load_npz(path: str, x_key: str, y_keys: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    try:
        archive = np.load(io.BytesIO(_read_bytes(path)), allow_pickle=False)
        missing = [key for key in (x_key, *y_keys) if key not in archive.files]
        if missing:
            raise UsageError(f"{path}: no array {missing[0]!r} in the NPZ file (has {archive.files})")
        arrays = {key: np.asarray(archive[key], dtype=np.float32) for key in (x_key, *y_keys)}
    except (ValueError, OSError) as exc:
        raise UsageError(f"{path}: not a readable NPZ file of numbers: {exc}") from None
    values = np.stack([arrays[key] for key in y_keys], axis=-1)
    if values.ndim != 3:
        raise UsageError(f"{path}: value arrays must have shape (curves, points), got {values.shape[:-1]}")
    x = arrays[x_key]
    if x.ndim == 1:
        x = np.broadcast_to(x, values.shape[:2])
    if x.shape != values.shape[:2]:
        raise UsageError(f"{path}: coordinates {x.shape} do not match values {values.shape[:2]}")
    return [(x[k], values[k]) for k in range(values.shape[0])]


def _load_csv(
    path: str, x_key: str, y_keys: list[str], curve_column: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    text = _read_bytes(path).decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    columns = [curve_column, x_key, *y_keys]
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise UsageError(f"{path}: missing CSV column(s) {missing}; found {reader.fieldnames}")
    curves: dict[str, list[list[float]]] = {}
    for line, row in enumerate(reader, start=2):
        try:
            point = [float(row[x_key]), *(float(row[key]) for key in y_keys)]
        except (TypeError, ValueError):
            raise UsageError(f"{path}: line {line}: coordinates and values must be numbers") from None
        curves.setdefault(row[curve_column], []).append(point)
    out = []
    for points in curves.values():
        table = np.asarray(points, dtype=np.float32)
        out.append((table[:, 0], table[:, 1:]))
    return out


class FunctionDataset(Dataset):
    """Curves ``u_k(x)`` sampled at points ``x``: items ``{"coords": (n, 1), "values": (n, d), "index"}``."""

    def __init__(
        self, path: str, x_key: str = "x", y_keys: list[str] | None = None, curve_column: str = "curve"
    ) -> None:
        self.path = str(path)
        keys = list(y_keys or ["y"])
        suffix = PurePosixPath(filesystem(self.path)[1]).suffix.lower()
        if suffix == ".npz":
            curves = _load_npz(self.path, x_key, keys)
        elif suffix == ".csv":
            curves = _load_csv(self.path, x_key, keys, curve_column)
        else:
            raise UsageError(f"{self.path}: function datasets are read from .npz or .csv files")
        if not curves:
            raise UsageError(f"{self.path}: contains no curves")
        self._curves = [(torch.tensor(np.asarray(x)), torch.tensor(np.asarray(y))) for x, y in curves]

    @classmethod
    def from_config(cls, config: Any) -> FunctionDataset:
        return cls(config.path, config.x_key, list(config.y_keys), config.curve_column)

    def __len__(self) -> int:
        return len(self._curves)

    def __getitem__(self, index: int) -> dict[str, Any]:
        x, y = self._curves[index]
        return {"coords": x[:, None].clone(), "values": y.clone(), "index": index}
