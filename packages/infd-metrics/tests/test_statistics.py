"""Streaming statistics against numpy, safetensors files (no pickle) and the statistics cache."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from infd_core.errors import UsageError
from infd_metrics import FeatureStatistics, StatisticsAccumulator, StatisticsCache, compute_statistics
from infd_metrics.sources import TensorSource


def _features(seed: int, count: int, dim: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, dim, generator=generator, dtype=torch.float64) * 3 + 1e4  # large offset


def test_streaming_accumulation_matches_numpy_cov() -> None:
    features = _features(0, 103, 7)
    accumulator = StatisticsAccumulator()
    for batch in features.split([1, 10, 37, 55]):
        accumulator.update(batch)
    stats = accumulator.result()
    assert stats.count == 103
    np.testing.assert_allclose(stats.mean, features.numpy().mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(stats.covariance, np.cov(features.numpy(), rowvar=False), rtol=1e-9)


def test_fewer_than_two_samples_is_a_clear_error() -> None:
    accumulator = StatisticsAccumulator()
    accumulator.update(_features(1, 1, 4))
    with pytest.raises(UsageError, match="at least 2 images"):
        accumulator.result()


def test_safetensors_round_trip_with_json_metadata(tmp_path: Path) -> None:
    stats = FeatureStatistics.from_features(_features(2, 20, 5), {"extractor": {"name": "x"}, "note": "é"})
    path = tmp_path / "stats.safetensors"
    stats.save(str(path))
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    assert header["__metadata__"]["format"] == "infd-metrics-statistics"
    assert {"mean", "covariance", "count"} <= set(header)
    loaded = FeatureStatistics.load(str(path))
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    np.testing.assert_array_equal(loaded.covariance, stats.covariance)
    assert loaded.count == 20 and loaded.metadata == stats.metadata


def test_statistics_on_an_fsspec_filesystem() -> None:
    stats = FeatureStatistics.from_features(_features(5, 9, 3), {"where": "memory"})
    url = "memory://infd-metrics-test/stats.safetensors"
    stats.save(url)
    loaded = FeatureStatistics.load(url)
    np.testing.assert_array_equal(loaded.covariance, stats.covariance)
    assert loaded.metadata == {"where": "memory"}


def test_non_statistics_files_are_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"\x00" * 32)
    with pytest.raises(UsageError):
        FeatureStatistics.load(str(bogus))
    with pytest.raises(UsageError, match="no statistics file"):
        FeatureStatistics.load(str(tmp_path / "missing.safetensors"))


class CountingExtractor(torch.nn.Module):
    """Mean colour features; counts how many images it has seen."""

    name, feature_dim, input_size, weights_sha256 = "counting", 3, 8, "0" * 64

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def features(self, images: torch.Tensor) -> torch.Tensor:
        self.seen += images.shape[0]
        return images.mean(dim=(2, 3))

    def fingerprint(self) -> dict:
        return {"name": self.name}


def test_cache_hits_skip_feature_extraction(tmp_path: Path) -> None:
    images = torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    extractor = CountingExtractor()
    cache = StatisticsCache(str(tmp_path / "cache"))
    first = compute_statistics(TensorSource(images), extractor, cache=cache, batch_size=4)
    assert extractor.seen == 6 and len(list((tmp_path / "cache").glob("*.safetensors"))) == 1
    second = compute_statistics(TensorSource(images.clone()), extractor, cache=cache)
    assert extractor.seen == 6  # read from the cache
    np.testing.assert_array_equal(first.covariance, second.covariance)
    compute_statistics(TensorSource(images[:5]), extractor, cache=cache)  # other data: other key
    assert extractor.seen == 11
    expected = np.cov(images.mean(dim=(2, 3)).double().numpy(), rowvar=False)
    np.testing.assert_allclose(first.covariance, expected, rtol=1e-6)
