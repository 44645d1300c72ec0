"""The ∞-Brush pipeline config: model sizes, conditional data, mollified diffusion, optimisation, sampling.

Diffusion and optimisation settings are ∞-Diff's (imported from infd-inftydiff): the same mollified
function-space diffusion, trained on random pixel subsets.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal

from pydantic import Field, model_validator

from infd_core.config import MemoryBudget, StrictModel
from infd_infbrush.model_config import PRESETS, BrushDenoiserConfig
from infd_inftydiff import DiffusionConfig, OptimConfig, merge_model_preset
from infd_inftydiff.presets import INFBRUSH_PAPER, apply_sections


class BrushDataConfig(StrictModel):
    """Training images with their classes: built-in photographs (a class per photo) or a folder whose
    sub-folders are the classes. ``encoding`` turns a class into the condition vector."""

    source: str = Field("builtin", description="'builtin' (photographs shipped with infd-io) or a folder/URL")
    classes: list[str] = Field(
        default_factory=lambda: ["hubble_deep_field", "immunohistochemistry"], min_length=1,
        description="built-in photo names, or sub-folder names of the source folder",
    )  # fmt: skip
    encoding: Literal["one_hot", "binary"] = Field(
        "one_hot", description="condition vector: one-hot of the class, or 0/1 for two classes (an attribute)"
    )
    resolution: int = Field(32, ge=4, description="training image side (crops are resized to it)")
    subsampling: float = Field(
        4.0, gt=1.0, description="keep 1/subsampling of the pixels (∞-Brush: 65536 px)"
    )
    batch_size: int = Field(8, ge=1)
    num_items: int = Field(4096, ge=1, description="random crops per class and epoch of the built-in set")
    condition_drop: float = Field(
        0.1, ge=0.0, lt=1.0, description="probability that a sample's condition is replaced by the null one"
    )
    embeddings: str | None = Field(
        None,
        description="a table of precomputed embeddings (a local .safetensors file, or a .zarr group, local "
        "or at an fsspec URL), one row per image of the folder "
        "`source` (made by `infd infbrush embed` or any encoder); conditions the model (condition.kind "
        "'embedding') instead of classes",
    )

    @model_validator(mode="after")
    def _check(self) -> BrushDataConfig:
        if self.embeddings is not None and self.source == "builtin":
            raise ValueError("data.embeddings needs data.source to be the folder of the embedded images")
        if self.encoding == "binary" and len(self.classes) != 2:
            raise ValueError(f"binary encoding needs exactly two classes, got {len(self.classes)}")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be distinct, got {self.classes}")
        return self

    @property
    def vector_dim(self) -> int:
        return 1 if self.encoding == "binary" else len(self.classes)


class BrushDiffusionConfig(DiffusionConfig):
    """∞-Diff's mollified diffusion with the loss weighting of ∞-Brush eq. 14."""

    loss_weighting: Literal["uniform", "lambda_t"] = Field(
        "uniform",
        description="per-time loss weight: 'lambda_t' (eq. 14: β_t²/(2 β̃_t (1 − β_t)(1 − ᾱ_t)), "
        "mean 1 over t) or 'uniform' (Ho et al.'s simple loss)",
    )


class BrushSamplingConfig(StrictModel):
    """DDIM with classifier-free guidance at any size, tile by tile (bounded memory)."""

    steps: int = Field(50, ge=1, description="DDIM steps (∞-Brush: 50)")
    eta: float = Field(0.0, ge=0, le=1)
    guidance_scale: float = Field(
        2.0,
        ge=0,
        description="w in ε = ε_uncond + w (ε_cond − ε_uncond); 1: conditional only, 0: unconditional",
    )
    use_ema: bool = True
    batch_size: int = Field(1, ge=1, description="images sampled together")
    chunk: int = Field(256, ge=16, description="tile side of the OME-Zarr output (power of two)")
    chunk_points: int = Field(
        1 << 18,
        ge=1024,
        description="pixels per tile of the full-grid evaluation (all images of a batch together)",
    )
    memory_budget: MemoryBudget = "auto"
    classes: list[int] | None = Field(
        None, description="class of each sample (cycled); default: i mod classes"
    )
    vector: list[float] | None = Field(None, description="an explicit condition vector for every sample")
    reference: str | None = Field(
        None, description="reference image file (patch conditioning); default: training crops"
    )
    embeddings: str | None = Field(
        None,
        description="an embedding table, .safetensors or .zarr (kind 'embedding'): sample i takes row i "
        "mod N; default: the training table",
    )

    @model_validator(mode="after")
    def _check(self) -> BrushSamplingConfig:
        if self.chunk & (self.chunk - 1):
            raise ValueError(f"chunk must be a power of two, got {self.chunk}")
        if self.classes is not None and self.vector is not None:
            raise ValueError("give classes or vector, not both")
        return self


class InfBrushConfig(StrictModel):
    """Everything ∞-Brush needs. ``preset`` fills the model sizes; ``model`` overrides them."""

    preset: Literal["tiny", "paper"] = "tiny"
    model: BrushDenoiserConfig = Field(default_factory=BrushDenoiserConfig)
    data: BrushDataConfig = Field(default_factory=BrushDataConfig)
    diffusion: BrushDiffusionConfig = Field(default_factory=BrushDiffusionConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    sampling: BrushSamplingConfig = Field(default_factory=BrushSamplingConfig)

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        preset = data.get("preset", "tiny")
        if preset not in PRESETS:
            return data  # the Literal check reports it
        if preset == "paper":
            data = apply_sections(data, INFBRUSH_PAPER)
        raw_data = data.get("data") or {}
        resolution = raw_data.get("resolution", 32)
        base, model = PRESETS[preset](resolution), data.get("model") or {}
        merged = merge_model_preset(base, model, resolution, ("grid", "attention", "condition"))
        condition = merged.setdefault("condition", {})
        if (
            condition.get("kind", "vector") == "vector"
            and "dim" not in condition
            and isinstance(raw_data, dict)
        ):
            # the vector length follows the data's classes unless given (data errors report themselves)
            with contextlib.suppress(ValueError):
                condition["dim"] = BrushDataConfig.model_validate(raw_data).vector_dim
        return {**data, "model": merged}

    @model_validator(mode="after")
    def _consistent(self) -> InfBrushConfig:
        if self.model.train_resolution != self.data.resolution:
            raise ValueError(
                f"model.train_resolution ({self.model.train_resolution}) must equal data.resolution "
                f"({self.data.resolution})"
            )
        condition = self.model.condition
        if (condition.kind == "embedding") != (self.data.embeddings is not None):
            raise ValueError(
                "model.condition.kind 'embedding' and data.embeddings go together (a table of embeddings "
                "per image conditions the model)"
            )
        if condition.kind == "vector" and condition.dim != self.data.vector_dim:
            raise ValueError(
                f"model.condition.dim ({condition.dim}) must equal the data's vector length "
                f"({self.data.vector_dim} for {len(self.data.classes)} classes, {self.data.encoding})"
            )
        return self
