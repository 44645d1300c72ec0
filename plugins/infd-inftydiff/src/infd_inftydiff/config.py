"""The ∞-Diff pipeline config: model sizes, data, mollified diffusion, optimisation, sampling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, model_validator

from infd_core.config import MemoryBudget, StrictModel
from infd_inftydiff.model_config import PRESETS, DenoiserConfig
from infd_inftydiff.presets import INFTYDIFF_PAPER, apply_sections


class DataConfig(StrictModel):
    """Training images: the built-in photographs (random crops) or an image folder / URL."""

    source: str = Field("builtin", description="'builtin' (photographs shipped with infd-io) or a folder/URL")
    resolution: int = Field(32, ge=4, description="training image side (crops are resized to it)")
    subsampling: float = Field(4.0, gt=1.0, description="keep 1/subsampling of the pixels per image (4×)")
    batch_size: int = Field(8, ge=1)
    num_items: int = Field(4096, ge=1, description="random crops per epoch of the built-in set")


class DiffusionConfig(StrictModel):
    """Mollified diffusion (∞-Diff eq. 9): cosine schedule and Gaussian mollifier."""

    num_steps: int = Field(1000, ge=2)
    mollifier_variance: float = Field(1.0, gt=0, description="in pixels² of the training resolution")
    wiener_epsilon: float = Field(0.2, gt=0, description="inverse SNR of the Wiener filter undoing T")


class OptimConfig(StrictModel):
    """AdamW with EMA, gradient clipping and (on CUDA) automatic mixed precision."""

    steps: int = Field(200, ge=1)
    lr: float = Field(2e-3, gt=0, description="paper: 5e-5 at batch 32 for 256² models")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam's (β1, β2); paper: (0.9, 0.99)")
    weight_decay: float = Field(0.0, ge=0)
    ema_decay: float = Field(0.99, ge=0, lt=1)
    grad_clip: float = Field(1.0, gt=0)
    grad_accumulation: int = Field(
        1, ge=1, description="micro-batches per step on each rank (the global batch is data.batch_size)"
    )
    amp: bool = Field(True, description="bf16 autocast on CUDA (ignored on CPU)")
    log_every: int = Field(10, ge=1)
    checkpoint_every: int = Field(0, ge=0, description="0: only at the end")


class InpaintConfig(StrictModel):
    """Inpainting (∞-Diff §5): keep the pixels where the mask is white, fill the rest."""

    image: str = Field(description="image file (PNG, JPEG, ...) to complete")
    mask: str = Field(description="image of the same size: white = known pixel, black = to fill")
    guidance_scale: float = Field(1.0, gt=0, description="λ of the reconstruction guidance")
    start: float = Field(
        1.0,
        gt=0,
        le=1,
        description="t_s / T: guided sampling starts from the image (unknown pixels: the known pixels' "
        "mean) noised to t_s, with that share of the steps; 1: from pure noise",
    )


class SuperResolutionConfig(StrictModel):
    """Super-resolution (∞-Diff §5): encode a low-resolution image, sample it at a higher resolution."""

    image: str = Field(description="the low-resolution image file")
    guidance_scale: float = Field(
        0.0,
        ge=0,
        description="λ of reconstruction guidance of the output, area-downsampled, towards the image "
        "(0: the paper's encoder-only super-resolution)",
    )
    start: float = Field(
        1.0, gt=0, le=1, description="t_s / T: start from the upsampled image noised to t_s (1: pure noise)"
    )


class SamplingConfig(StrictModel):
    """DDIM sampling at any resolution; optionally inpainting or super-resolution instead."""

    steps: int = Field(100, ge=1, description="DDIM steps (paper: 100)")
    eta: float = Field(0.0, ge=0, le=1)
    use_ema: bool = True
    batch_size: int = Field(4, ge=1, description="images sampled together")
    chunk: int = Field(256, ge=16, description="tile side of the OME-Zarr output (power of two)")
    chunk_points: int = Field(
        1 << 20, ge=1024, description="pixels per tile of the full-grid evaluation (all images of a batch)"
    )
    memory_budget: MemoryBudget = "auto"
    inpaint: InpaintConfig | None = None
    superres: SuperResolutionConfig | None = None

    @model_validator(mode="after")
    def _one_task(self) -> SamplingConfig:
        if self.inpaint is not None and self.superres is not None:
            raise ValueError("choose inpaint or superres, not both")
        if self.chunk & (self.chunk - 1):
            raise ValueError(f"chunk must be a power of two, got {self.chunk}")
        return self


class LatentConfig(StrictModel):
    """The latent DDPM of the diffusion autoencoder (used when ``model.latent_dim`` > 0)."""

    architecture: Literal["residual", "skip"] = Field(
        "residual", description="'skip': DiffAE's skip-connected MLP; 'residual': a residual MLP"
    )
    hidden: int = Field(256, ge=8)
    depth: int = Field(4, ge=1)
    loss: Literal["mse", "l1"] = Field("mse", description="ε-matching loss (DiffAE: l1)")
    schedule: Literal["pixel", "constant"] = Field(
        "pixel",
        description="'constant': β = `beta` for `num_steps` steps (DiffAE); 'pixel': the pixel model's",
    )
    beta: float = Field(0.008, gt=0, lt=1, description="β of the constant schedule")
    num_steps: int = Field(1000, ge=2, description="steps of the constant schedule")
    steps: int = Field(200, ge=0, description="training steps of the latent DDPM")
    lr: float = Field(1e-3, gt=0)
    stats_batches: int = Field(8, ge=1, description="batches used to standardise the latents")

    @model_validator(mode="after")
    def _skip_depth(self) -> LatentConfig:
        if self.architecture == "skip" and self.depth < 2:
            raise ValueError("the skip MLP needs depth >= 2 (hidden layers and an output layer)")
        return self


def merge_model_preset(
    base: dict[str, Any], model: dict[str, Any], resolution: int, sections: Sequence[str]
) -> dict[str, Any]:
    """A ``model`` config over a preset's sizes ``base`` for training ``resolution``: explicit keys win,
    and the sub-sections named in ``sections`` merge key by key instead of replacing the preset's."""
    merged = {**base, "train_resolution": resolution, **model}
    for key in sections:
        part = {**base.get(key, {}), **(model.get(key) or {})}
        if part:
            merged[key] = part
    return merged


class InftyDiffConfig(StrictModel):
    """Everything ∞-Diff needs. ``preset`` fills the model sizes; ``model`` overrides them."""

    preset: Literal["tiny", "paper"] = "tiny"
    model: DenoiserConfig = Field(default_factory=DenoiserConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    diffusion: DiffusionConfig = Field(default_factory=DiffusionConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    latent: LatentConfig = Field(default_factory=LatentConfig)

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        preset = data.get("preset", "tiny")
        if preset not in PRESETS:
            return data  # the Literal check reports it
        if preset == "paper":
            data = apply_sections(data, INFTYDIFF_PAPER)
        resolution = (data.get("data") or {}).get("resolution", DataConfig().resolution)
        base, model = PRESETS[preset](resolution), data.get("model") or {}
        return {**data, "model": merge_model_preset(base, model, resolution, ["grid"])}

    @model_validator(mode="after")
    def _consistent(self) -> InftyDiffConfig:
        if self.model.train_resolution != self.data.resolution:
            raise ValueError(
                f"model.train_resolution ({self.model.train_resolution}) must equal data.resolution "
                f"({self.data.resolution})"
            )
        return self
