"""infd-metrics: FID, FID_CLIP, patch-FID and crop-FID from user-supplied Inception / open_clip weights.

Names are imported lazily so that loading the plugin (``infd plugins``) does not import torch.
"""

from __future__ import annotations

from infd_core.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "ClipConfig": "infd_metrics.configs",
    "InceptionConfig": "infd_metrics.configs",
    "RandomFeaturesConfig": "infd_metrics.configs",
    "FIDConfig": "infd_metrics.configs",
    "PatchFIDConfig": "infd_metrics.configs",
    "FeatureExtractor": "infd_metrics.extractor",
    "resolve_extractor": "infd_metrics.extractor",
    "ClipEncoder": "infd_metrics.clip",
    "load_clip": "infd_metrics.clip",
    "InceptionExtractor": "infd_metrics.inception",
    "load_inception": "infd_metrics.inception",
    "RandomFeatureExtractor": "infd_metrics.random_features",
    "save_random_extractor": "infd_metrics.random_features",
    "load_random_extractor": "infd_metrics.random_features",
    "frechet_distance": "infd_metrics.frechet",
    "FeatureStatistics": "infd_metrics.statistics",
    "StatisticsAccumulator": "infd_metrics.statistics",
    "StatisticsCache": "infd_metrics.cache",
    "CropSampler": "infd_metrics.crops",
    "ImageSource": "infd_metrics.sources",
    "TensorSource": "infd_metrics.sources",
    "FolderSource": "infd_metrics.sources",
    "open_source": "infd_metrics.sources",
    "ZarrSource": "infd_metrics.zarr_source",
    "compute_statistics": "infd_metrics.compute",
    "dataset_statistics": "infd_metrics.metrics",
    "fid": "infd_metrics.metrics",
    "fid_clip": "infd_metrics.metrics",
    "patch_fid": "infd_metrics.metrics",
    "crop_fid": "infd_metrics.metrics",
    "FIDMetric": "infd_metrics.components",
    "PatchFIDMetric": "infd_metrics.components",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
