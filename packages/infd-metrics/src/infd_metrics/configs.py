"""Pydantic configs of the feature extractors and metrics (imports no torch, like infd-io's configs)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from infd_core.config import StrictModel


class ExtractorRef(StrictModel):
    """A registered feature extractor (component kind ``models``) and its config."""

    name: str = "fid-inception"
    config: dict[str, Any] = Field(default_factory=dict)


class ClipConfig(StrictModel):
    """An open_clip model built from its architecture and a user-supplied weight file."""

    model: str = Field("ViT-B-32", description="open_clip architecture name (a built-in config)")
    checkpoint: str = Field(
        "",
        description="local path or fsspec URL of the weights: .safetensors, or an open_clip .pt/.bin "
        "state dict (read with weights_only=True)",
    )
    model_config_json: dict[str, Any] | str | None = Field(
        None,
        alias="model_config",
        description="custom architecture: an open_clip model config dict, or a JSON file path/URL "
        "(plain, or {'model_cfg': ..., 'preprocess_cfg': ...}); overrides `model`",
    )
    image_mean: tuple[float, float, float] | None = Field(
        None, description="normalisation mean (default: the config's preprocess_cfg, else OpenAI's)"
    )
    image_std: tuple[float, float, float] | None = Field(
        None, description="normalisation std (default: the config's preprocess_cfg, else OpenAI's)"
    )
    context_length: int | None = Field(None, ge=1, description="tokenizer context (default: the config's)")
    fid_features: str = Field(
        "raw",
        pattern="^(raw|normalized)$",
        description="features FID_CLIP uses: raw image embeddings (as clean-fid) or L2-normalised ones",
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=())


class InceptionConfig(StrictModel):
    """clean-fid's Inception: the TorchScript file ``inception-2015-12-05.pt`` it uses."""

    checkpoint: str = Field(
        "", description="local path or fsspec URL of inception-2015-12-05.pt (TorchScript)"
    )


class RandomFeaturesConfig(StrictModel):
    """A tiny random CNN saved with :func:`infd_metrics.save_random_extractor` (tests, smoke runs)."""

    checkpoint: str = Field("", description="local path or fsspec URL of the .safetensors file")


class FIDConfig(StrictModel):
    """FID between two image sets (tensors, image folders, OME-Zarr stores or statistics files)."""

    extractor: ExtractorRef = Field(
        default_factory=ExtractorRef,
        description="a registered feature extractor (kind `models`) and its config",
    )
    batch_size: int = Field(32, ge=1)
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto, cpu, cuda or cuda:N")
    cache_dir: str | None = Field(None, description="folder/URL of cached dataset statistics")
    convert_rgb: bool = Field(False, description="convert folders mixing grey/colour images to RGB")


class PatchFIDConfig(FIDConfig):
    """Patch-FID: FID of random ``patch_size²`` crops of images at ``resolution`` (pFID-P/R)."""

    patch_size: int = Field(256, ge=8)
    resolution: int | None = Field(
        None, ge=8, description="shorter image side before cropping (None: native resolution)"
    )
    crops_per_image: int = Field(1, ge=1)
    seed: int = Field(0, ge=0)

    @field_validator("resolution")
    @classmethod
    def _at_least_patch(cls, resolution: int | None, info: Any) -> int | None:
        patch = info.data.get("patch_size")
        if resolution is not None and patch is not None and resolution < patch:
            raise ValueError(f"resolution {resolution} is smaller than patch_size {patch}")
        return resolution
