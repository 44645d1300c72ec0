"""Sizes of the ∞-Brush conditional denoiser: ∞-Diff's sparse/grid sizes plus attention and conditioning."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from infd_core.config import StrictModel
from infd_inftydiff import PRESETS as INFTYDIFF_PRESETS
from infd_inftydiff import DenoiserConfig


class AttentionConfig(StrictModel):
    """The cross-attention and self-attention operators of the sparse level."""

    blocks: int = Field(1, ge=1, description="pairs of (cross-attention, self-attention) operators")
    heads: int = Field(4, ge=1)
    head_dim: int = Field(8, ge=2, description="features per head (softmax-normalised, GNOT style)")
    coordinate_source: bool = Field(
        True, description="coordinate embeddings of the points as a third source (time, condition, coords)"
    )
    coordinate_frequencies: int = Field(4, ge=1, description="Fourier frequencies per axis of that source")
    grid_cross_attention: bool = Field(
        False, description="softmax cross-attention of the grid U-Net's bottleneck on the condition tokens"
    )


class ConditionConfig(StrictModel):
    """What the model is conditioned on: a vector (class, attribute), reference-image patches, or
    precomputed embeddings (a vector or a token set per image, from any encoder)."""

    kind: Literal["vector", "patches", "embedding"] = "vector"
    dim: int = Field(
        2, ge=1, description="length of a condition vector (kind 'vector'), or the embeddings' width"
    )
    tokens: int = Field(4, ge=1, description="tokens the MLP makes from a vector")
    width: int = Field(32, ge=4, description="width of the condition tokens")
    null_tokens: int = Field(1, ge=1, description="tokens of the learned null condition (guidance)")
    patch_size: int = Field(8, ge=1, description="reference patches of patch_size² pixels (kind 'patches')")
    reference_resolution: int = Field(32, ge=1, description="reference images are resized to this side")
    encoder_width: int = Field(32, ge=4, description="token width of the patch encoder")
    encoder: str | None = Field(
        None,
        description="local .safetensors file of a pre-trained patch encoder (frozen); none: trained jointly",
    )

    @model_validator(mode="after")
    def _patches_fit(self) -> ConditionConfig:
        if self.kind == "patches" and self.reference_resolution < self.patch_size:
            raise ValueError(
                f"reference_resolution ({self.reference_resolution}) must be >= "
                f"patch_size ({self.patch_size})"
            )
        return self


class BrushDenoiserConfig(DenoiserConfig):
    """∞-Diff's denoiser sizes (sparse blocks, grid U-Net) plus the ∞-Brush operators."""

    attention: AttentionConfig = Field(default_factory=AttentionConfig)
    condition: ConditionConfig = Field(default_factory=ConditionConfig)

    @model_validator(mode="after")
    def _no_latent(self) -> BrushDenoiserConfig:
        if self.latent_dim:
            raise ValueError("latent_dim (∞-Diff's autoencoder) is not used by ∞-Brush; leave it 0")
        return self


def paper_preset(resolution: int = 1024) -> dict[str, Any]:
    """∞-Diff's paper sizes and interpolation with ∞-Brush's operators (8 heads of 32 features, 256-wide
    tokens); no diffusion autoencoder (the condition takes the latent's place)."""
    return {
        **INFTYDIFF_PRESETS["paper"](resolution),
        "latent_dim": 0,
        "attention": {"blocks": 2, "heads": 8, "head_dim": 32, "grid_cross_attention": True},
        "condition": {"width": 256, "tokens": 8, "encoder_width": 256, "patch_size": 16,
                      "reference_resolution": 256},
    }  # fmt: skip


def tiny_preset(resolution: int = 32) -> dict[str, Any]:
    """CPU-sized defaults (those of :class:`BrushDenoiserConfig`)."""
    return INFTYDIFF_PRESETS["tiny"](resolution)


PRESETS = {"tiny": tiny_preset, "paper": paper_preset}
