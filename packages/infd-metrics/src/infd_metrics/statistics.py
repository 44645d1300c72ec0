"""Feature statistics (mean, covariance, count): accumulated in float64, saved as safetensors + JSON.

A statistics file is a plain safetensors file with the tensors ``mean`` (D,), ``covariance`` (D, D)
and ``count`` (a 0-d int64), and a JSON document in its header metadata under ``infd_metrics``
describing what was measured (extractor, data, crop settings). Nothing is ever pickled.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import struct
from typing import Any

import numpy as np

from infd_core.errors import UsageError

logger = logging.getLogger(__name__)

FORMAT = "infd-metrics-statistics"
FORMAT_VERSION = "1"


@dataclasses.dataclass
class FeatureStatistics:
    """Mean and unbiased covariance (divided by ``count - 1``) of ``count`` feature vectors."""

    mean: np.ndarray
    covariance: np.ndarray
    count: int
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @classmethod
    def from_features(cls, features: Any, metadata: dict[str, Any] | None = None) -> FeatureStatistics:
        """Statistics of an ``(N, D)`` array or tensor of features (N ≥ 2)."""
        accumulator = StatisticsAccumulator()
        accumulator.update(features)
        return accumulator.result(metadata)

    # -- files ------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        from safetensors.numpy import save

        tensors = {
            "mean": np.ascontiguousarray(self.mean, dtype=np.float64),
            "covariance": np.ascontiguousarray(self.covariance, dtype=np.float64),
            "count": np.asarray(self.count, dtype=np.int64),
        }
        header = {"format": FORMAT, "version": FORMAT_VERSION, "infd_metrics": json.dumps(self.metadata)}
        return save(tensors, metadata=header)

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "statistics") -> FeatureStatistics:
        from safetensors.numpy import load

        header = safetensors_metadata(data, where)
        if header.get("format") != FORMAT:
            raise UsageError(
                f"{where}: not an infd-metrics statistics file (format {header.get('format')!r})"
            )
        try:
            tensors = load(data)
            mean, covariance, count = tensors["mean"], tensors["covariance"], int(tensors["count"])
            metadata = json.loads(header.get("infd_metrics", "{}"))
        except (KeyError, ValueError) as exc:
            raise UsageError(f"{where}: malformed statistics file: {exc}") from None
        dim = mean.shape[0] if mean.ndim == 1 else -1
        if dim < 1 or covariance.shape != (dim, dim):
            raise UsageError(f"{where}: mean {mean.shape} and covariance {covariance.shape} do not match")
        return cls(mean.astype(np.float64), covariance.astype(np.float64), count, metadata)

    def save(self, url: str) -> None:
        """Write to a local path or fsspec URL (atomically)."""
        from infd_core.outputs import write_bytes_atomic

        write_bytes_atomic(str(url), self.to_bytes())

    @classmethod
    def load(cls, url: str) -> FeatureStatistics:
        """Read a statistics file written by :meth:`save`."""
        from infd_core.outputs import filesystem

        fs, path = filesystem(str(url))
        try:
            data = fs.cat_file(path)
        except FileNotFoundError:
            raise UsageError(f"{url}: no statistics file here") from None
        except OSError as exc:
            raise UsageError(f"{url}: cannot read statistics: {exc.strerror or exc}") from None
        return cls.from_bytes(data, str(url))


def safetensors_metadata(data: bytes, where: str) -> dict[str, str]:
    try:
        (length,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + length])
    except (struct.error, ValueError, UnicodeDecodeError):
        raise UsageError(f"{where}: not a safetensors file") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return metadata if isinstance(metadata, dict) else {}


class StatisticsAccumulator:
    """Streaming mean and scatter matrix, merged batch by batch (Chan et al.) in float64."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: np.ndarray | None = None
        self.scatter: np.ndarray | None = None

    def update(self, features: Any) -> None:
        """Add an ``(N, D)`` batch of features (numpy array or torch tensor)."""
        if hasattr(features, "detach"):
            features = features.detach().cpu().double().numpy()
        batch = np.asarray(features, dtype=np.float64)
        if batch.ndim != 2:
            raise UsageError(f"features must be (N, D), got shape {batch.shape}")
        if not np.all(np.isfinite(batch)):
            raise UsageError("the feature extractor produced NaN or inf features")
        if self.mean is not None and batch.shape[1] != self.mean.shape[0]:
            raise UsageError(f"feature dimension changed from {self.mean.shape[0]} to {batch.shape[1]}")
        n = batch.shape[0]
        if n == 0:
            return
        batch_mean = batch.mean(axis=0)
        centred = batch - batch_mean
        batch_scatter = centred.T @ centred
        if self.mean is None or self.scatter is None:
            self.count, self.mean, self.scatter = n, batch_mean, batch_scatter
            return
        total = self.count + n
        delta = batch_mean - self.mean
        self.scatter = self.scatter + batch_scatter + np.outer(delta, delta) * (self.count * n / total)
        self.mean = self.mean + delta * (n / total)
        self.count = total

    def result(self, metadata: dict[str, Any] | None = None) -> FeatureStatistics:
        """The statistics so far; at least two feature vectors are needed for a covariance."""
        if self.count < 2 or self.mean is None or self.scatter is None:
            raise UsageError(
                f"a covariance needs at least 2 images (or crops), got {self.count}; "
                "give more images (FID is biased unless there are thousands)"
            )
        if self.count <= self.mean.shape[0]:
            logger.warning(
                "only %d samples for %d-dimensional features: the covariance is singular and FID is "
                "strongly biased; use many more images",
                self.count,
                self.mean.shape[0],
            )
        covariance = self.scatter / (self.count - 1)
        return FeatureStatistics(
            self.mean.copy(), (covariance + covariance.T) / 2, self.count, metadata or {}
        )
