"""Features of an image source, batch by batch, into :class:`FeatureStatistics` (cached if asked)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import torch

from infd_core.events import ProgressCallback, ProgressEvent
from infd_metrics.cache import StatisticsCache, statistics_key
from infd_metrics.crops import CropSampler
from infd_metrics.extractor import FeatureExtractor
from infd_metrics.sources import ImageSource
from infd_metrics.statistics import FeatureStatistics, StatisticsAccumulator

logger = logging.getLogger(__name__)


def _batches(
    source: ImageSource, sampler: CropSampler | None, min_side: int, batch_size: int
) -> Iterator[tuple[torch.Tensor, int]]:
    """``(batch, images done)``: images of one size stacked together, at most ``batch_size``."""
    pending: list[torch.Tensor] = []
    for index in range(len(source)):
        items = source.crops(index, sampler) if sampler is not None else source.image(index, min_side)[None]
        for item in items:
            if pending and (len(pending) >= batch_size or item.shape != pending[0].shape):
                yield torch.stack(pending), index
                pending = []
            pending.append(item)
    if pending:
        yield torch.stack(pending), len(source)


def compute_statistics(
    source: ImageSource,
    extractor: FeatureExtractor,
    *,
    sampler: CropSampler | None = None,
    batch_size: int = 32,
    cache: StatisticsCache | str | None = None,
    progress: ProgressCallback | None = None,
    task: str = "features",
) -> FeatureStatistics:
    """Statistics of ``extractor`` features of every image (or every crop, with ``sampler``)."""
    sampling: dict[str, Any] = {"mode": "crops", **sampler.describe()} if sampler else {"mode": "full"}
    description = {"extractor": extractor.fingerprint(), "data": source.fingerprint(), "sampling": sampling}
    key = statistics_key(description["extractor"], description["data"], sampling)
    if isinstance(cache, str):
        cache = StatisticsCache(cache)
    if cache is not None and (cached := cache.get(key)) is not None:
        if progress is not None:
            progress(ProgressEvent(task, len(source), len(source), {"cached": True}))
        return cached
    accumulator = StatisticsAccumulator()
    total = len(source)
    with torch.no_grad():
        for batch, done in _batches(source, sampler, extractor.input_size, batch_size):
            accumulator.update(extractor.features(batch).double().cpu())
            if progress is not None:
                progress(ProgressEvent(task, done, total, {"samples": accumulator.count}))
    statistics = accumulator.result({**description, "key": key, "source": source.label})
    logger.info("%s: %d samples, %d-d features", source.label, statistics.count, statistics.dim)
    if cache is not None:
        cache.put(key, statistics)
    return statistics
