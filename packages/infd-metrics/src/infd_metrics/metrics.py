"""FID, FID_CLIP, patch-FID and crop-FID between two image sets.

``real`` and ``fake`` may each be a ``(N, C, H, W)`` tensor or a list of ``(C, H, W)`` tensors (uint8, or
float in [0, 1]), an image folder (path or fsspec URL), an OME-Zarr store (or a list of stores, one image
each), a :class:`FeatureStatistics`, or the path of a saved statistics ``.safetensors`` file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from infd_core.errors import UsageError
from infd_core.events import ProgressCallback
from infd_metrics.cache import StatisticsCache
from infd_metrics.compute import compute_statistics
from infd_metrics.crops import CropSampler
from infd_metrics.extractor import FeatureExtractor, resolve_extractor
from infd_metrics.frechet import frechet_distance
from infd_metrics.sources import open_source
from infd_metrics.statistics import FeatureStatistics

logger = logging.getLogger(__name__)


def _check_compatible(
    statistics: FeatureStatistics, extractor: FeatureExtractor, sampling: dict[str, Any]
) -> None:
    """Refuse saved statistics measured with another extractor or other crops."""
    saved_extractor = statistics.metadata.get("extractor")
    if saved_extractor is not None and saved_extractor != extractor.fingerprint():
        raise UsageError(
            f"these statistics were computed with {saved_extractor.get('name')} "
            f"(weights {str(saved_extractor.get('weights_sha256'))[:12]}), not with {extractor.name} "
            f"(weights {extractor.weights_sha256[:12]})"
        )
    saved_sampling = statistics.metadata.get("sampling")
    if saved_sampling is not None and saved_sampling != sampling:
        raise UsageError(f"these statistics were computed with sampling {saved_sampling}, not {sampling}")
    if statistics.dim != extractor.feature_dim:
        raise UsageError(
            f"statistics have {statistics.dim}-d features, the extractor gives {extractor.feature_dim}"
        )


def dataset_statistics(
    data: Any,
    extractor: Any,
    *,
    sampler: CropSampler | None = None,
    batch_size: int = 32,
    device: Any = None,
    cache: StatisticsCache | str | None = None,
    progress: ProgressCallback | None = None,
    convert_rgb: bool = False,
    task: str = "features",
) -> FeatureStatistics:
    """Statistics of one image set (or the given/saved statistics, checked against ``extractor``)."""
    extractor = resolve_extractor(extractor, device)
    sampling = {"mode": "crops", **sampler.describe()} if sampler else {"mode": "full"}
    if isinstance(data, (str, Path)) and str(data).endswith(".safetensors"):
        data = FeatureStatistics.load(str(data))
    if isinstance(data, FeatureStatistics):
        _check_compatible(data, extractor, sampling)
        return data
    source = open_source(data, convert_rgb=convert_rgb)
    return compute_statistics(
        source, extractor, sampler=sampler, batch_size=batch_size, cache=cache, progress=progress, task=task
    )


def _distance(real: Any, fake: Any, extractor: Any, sampler: CropSampler | None, **options: Any) -> float:
    extractor = resolve_extractor(extractor, options.pop("device", None))
    first = dataset_statistics(real, extractor, sampler=sampler, task="real", **options)
    second = dataset_statistics(fake, extractor, sampler=sampler, task="fake", **options)
    return frechet_distance(first.mean, first.covariance, second.mean, second.covariance)


def fid(
    real: Any,
    fake: Any,
    extractor: Any,
    *,
    batch_size: int = 32,
    device: Any = None,
    cache: StatisticsCache | str | None = None,
    progress: ProgressCallback | None = None,
    convert_rgb: bool = False,
) -> float:
    """FID of whole images; ``extractor``: a :class:`FeatureExtractor`, an extractor config, or the path
    of clean-fid's ``inception-2015-12-05.pt``."""
    return _distance(
        real,
        fake,
        extractor,
        None,
        batch_size=batch_size,
        device=device,
        cache=cache,
        progress=progress,
        convert_rgb=convert_rgb,
    )


def fid_clip(
    real: Any,
    fake: Any,
    clip: Any,
    *,
    batch_size: int = 32,
    device: Any = None,
    cache: StatisticsCache | str | None = None,
    progress: ProgressCallback | None = None,
    convert_rgb: bool = False,
) -> float:
    """FID_CLIP (Kynkäänniemi et al. 2023): FID on CLIP image embeddings; ``clip`` is a
    :class:`~infd_metrics.clip.ClipEncoder` or a :class:`~infd_metrics.configs.ClipConfig`."""
    from infd_metrics.clip import ClipEncoder
    from infd_metrics.configs import ClipConfig

    if not isinstance(clip, (ClipEncoder, ClipConfig)):
        raise UsageError(f"fid_clip needs a ClipEncoder or a ClipConfig, got {type(clip).__name__}")
    return fid(
        real,
        fake,
        clip,
        batch_size=batch_size,
        device=device,
        cache=cache,
        progress=progress,
        convert_rgb=convert_rgb,
    )


def patch_fid(
    real: Any,
    fake: Any,
    extractor: Any,
    *,
    patch_size: int = 256,
    resolution: int | None = None,
    crops_per_image: int = 1,
    seed: int = 0,
    batch_size: int = 32,
    device: Any = None,
    cache: StatisticsCache | str | None = None,
    progress: ProgressCallback | None = None,
    convert_rgb: bool = False,
) -> float:
    """pFID-P/R: FID of random ``patch_size²`` crops of the images seen at ``resolution`` (shorter side;
    None keeps each image's size). pFID-256/1K is ``patch_size=256, resolution=1024``, one crop per
    image; the extractor then resizes each crop to its input size. OME-Zarr crops are read lazily."""
    sampler = CropSampler(patch_size, resolution, crops_per_image, seed)
    return _distance(
        real,
        fake,
        extractor,
        sampler,
        batch_size=batch_size,
        device=device,
        cache=cache,
        progress=progress,
        convert_rgb=convert_rgb,
    )


def crop_fid(
    real: Any,
    fake: Any,
    extractor: Any,
    *,
    patch_size: int = 256,
    crops_per_image: int = 1,
    seed: int = 0,
    **options: Any,
) -> float:
    """Crop-FID (as in ∞-Brush): FID of random native-resolution ``patch_size²`` crops, no resizing of
    the images before cropping (patch-FID with ``resolution=None``)."""
    return patch_fid(
        real,
        fake,
        extractor,
        patch_size=patch_size,
        resolution=None,
        crops_per_image=crops_per_image,
        seed=seed,
        **options,
    )
