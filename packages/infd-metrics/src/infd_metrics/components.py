"""Metric components built from their configs by the registry (``infd_metrics`` hook)."""

from __future__ import annotations

from typing import Any

from infd_core.events import ProgressCallback
from infd_metrics.configs import FIDConfig, PatchFIDConfig


def build_extractor(config: FIDConfig) -> Any:
    """The feature extractor a metric config names, built through the registry (kind ``models``)."""
    from infd_core.config import ComponentRef, build_component
    from infd_core.plugins import get_registry
    from infd_metrics.extractor import pick_device

    ref = ComponentRef(name=config.extractor.name, config=config.extractor.config)
    extractor = build_component("models", ref, get_registry(), path="extractor")
    return extractor.to(pick_device(config.device))


class FIDMetric:
    """``metric(real, fake) -> float``: FID with the configured extractor (FID_CLIP with ``open-clip``)."""

    def __init__(self, config: FIDConfig) -> None:
        self.config = config
        self.extractor = build_extractor(config)

    @classmethod
    def from_config(cls, config: FIDConfig) -> FIDMetric:
        return cls(config)

    def _options(self, progress: ProgressCallback | None) -> dict[str, Any]:
        return {
            "batch_size": self.config.batch_size,
            "cache": self.config.cache_dir,
            "progress": progress,
            "convert_rgb": self.config.convert_rgb,
        }

    def __call__(self, real: Any, fake: Any, progress: ProgressCallback | None = None) -> float:
        from infd_metrics.metrics import fid

        return fid(real, fake, self.extractor, **self._options(progress))


class PatchFIDMetric(FIDMetric):
    """``metric(real, fake) -> float``: patch-FID (crop-FID when ``resolution`` is None)."""

    config: PatchFIDConfig

    @classmethod
    def from_config(cls, config: PatchFIDConfig) -> PatchFIDMetric:  # type: ignore[override]
        return cls(config)

    def __call__(self, real: Any, fake: Any, progress: ProgressCallback | None = None) -> float:
        from infd_metrics.metrics import patch_fid

        config = self.config
        return patch_fid(
            real,
            fake,
            self.extractor,
            patch_size=config.patch_size,
            resolution=config.resolution,
            crops_per_image=config.crops_per_image,
            seed=config.seed,
            **self._options(progress),
        )
