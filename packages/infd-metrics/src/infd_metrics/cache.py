"""A folder (local or fsspec URL) of dataset statistics, keyed by extractor, data and sampling."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from infd_metrics.statistics import FeatureStatistics

logger = logging.getLogger(__name__)


def statistics_key(extractor: dict[str, Any], data: dict[str, Any], sampling: dict[str, Any]) -> str:
    """A stable hash of what determines a set of statistics."""
    document = json.dumps({"extractor": extractor, "data": data, "sampling": sampling}, sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()[:40]


class StatisticsCache:
    """``<root>/<key>.safetensors`` files written by :class:`FeatureStatistics` (never pickles)."""

    def __init__(self, root: str) -> None:
        self.root = str(root).rstrip("/")

    def path(self, key: str) -> str:
        return f"{self.root}/{key}.safetensors"

    def get(self, key: str) -> FeatureStatistics | None:
        from infd_core.outputs import filesystem

        fs, path = filesystem(self.path(key))
        if not fs.exists(path):
            return None
        logger.info("statistics from cache: %s", self.path(key))
        return FeatureStatistics.load(self.path(key))

    def put(self, key: str, statistics: FeatureStatistics) -> str:
        from infd_core.outputs import ensure_writable_dir

        ensure_writable_dir(self.root)
        statistics.save(self.path(key))
        logger.info("statistics cached: %s", self.path(key))
        return self.path(key)
