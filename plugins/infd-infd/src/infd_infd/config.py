"""The INFD pipeline config: autoencoder, renderer, data, losses, latent diffusion, sampling, layouts.

``preset: tiny`` (the default) gives CPU-sized models; ``preset: paper`` fills in the sizes of the
public INFD code (REFERENCE-NOTES); any key given explicitly overrides the preset.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from infd_core.config import ComponentRef, StrictModel
from infd_render.configs import CLIFConfig


class AutoencoderConfig(StrictModel):
    """Encoder E → regulariser (VQ or KL) → decoder D → feature map φ (VQGAN-f4 style, no attention)."""

    encoder_size: int = Field(32, ge=4, description="every image is resampled to this side for E")
    channels: int = Field(8, ge=1, description="base channels (paper 128)")
    channel_mult: list[int] = Field(default_factory=lambda: [1, 2, 4], min_length=1)
    num_res_blocks: int = Field(1, ge=1, description="residual blocks per level (paper 2)")
    latent_channels: int = Field(3, ge=1)
    norm_groups: int = Field(4, ge=1, description="GroupNorm groups (divides every channel count)")
    regulariser: Literal["vq", "kl"] = "vq"
    codebook_size: int = Field(64, ge=2, description="VQ codes (paper 8192)")
    beta: float = Field(0.25, ge=0, description="VQ commitment weight")
    kl_weight: float = Field(1e-6, ge=0, description="weight of the KL term (regulariser kl)")

    @property
    def downsampling(self) -> int:
        return 2 ** (len(self.channel_mult) - 1)

    @property
    def latent_size(self) -> int:
        return self.encoder_size // self.downsampling

    @property
    def feature_channels(self) -> int:
        """Channels of φ (the decoder stops before its output layer)."""
        return self.channels * self.channel_mult[0]

    @model_validator(mode="after")
    def _check(self) -> AutoencoderConfig:
        if self.encoder_size % self.downsampling:
            raise ValueError(f"encoder_size {self.encoder_size} is not divisible by {self.downsampling}")
        for mult in self.channel_mult:
            if (self.channels * mult) % self.norm_groups:
                raise ValueError(f"norm_groups {self.norm_groups} must divide every channel count")
        return self


class DataConfig(StrictModel):
    """Mixed-resolution images cropped into multi-scale patches (§4.1)."""

    source: str = Field("builtin", description="'builtin' (photographs of infd-io) or an image folder/URL")
    builtin_resolutions: list[int] = Field(
        default_factory=lambda: [32, 64], min_length=1, description="builtin: one subset per side"
    )
    num_items: int = Field(64, ge=1, description="builtin: random crops per resolution subset")
    patch_size: int = Field(32, ge=4, description="P: side of the training patches (paper 256)")
    min_size: int | None = Field(None, description="smallest resized short side r (default P)")
    max_size: int | None = Field(64, description="largest resized short side r (paper 1024)")
    batch_size: int = Field(4, ge=1)
    balanced: float | None = Field(
        None, ge=0, le=1, description="probability of drawing a high-resolution image (Table 4: 0.5)"
    )
    high_resolution: int = Field(64, ge=1, description="short side from which an image counts as high-res")


class PerceptualConfig(StrictModel):
    """LPIPS-style perceptual loss; weights only from a local safetensors file (off without one)."""

    weights: str | None = Field(None, description="safetensors file of the network (+ optional lin.*)")
    arch: Literal["vgg16", "small"] = Field("vgg16", description="torchvision VGG16 or a small VGG-like net")
    channels: list[int] = Field(default_factory=lambda: [8, 16, 32], min_length=1, description="arch small")


class DiscriminatorConfig(StrictModel):
    """Hinge PatchGAN (pix2pix NLayerDiscriminator); optional initial weights from a safetensors file."""

    layers: int = Field(3, ge=1)
    channels: int = Field(8, ge=1, description="ndf (paper 64)")
    weights: str | None = Field(None, description="optional safetensors file with initial weights")


class LossConfig(StrictModel):
    """L_AE = L1 + perceptual + adaptive-weighted hinge GAN (eq. 2) + the regulariser's term."""

    l1_weight: float = Field(1.0, ge=0)
    perceptual_weight: float = Field(1.0, ge=0)
    disc_weight: float = Field(0.75, ge=0, description="times the VQGAN adaptive weight (0 disables GAN)")
    disc_start: int = Field(0, ge=0, description="autoencoder step from which the GAN terms are on")
    perceptual: PerceptualConfig = Field(default_factory=PerceptualConfig)
    discriminator: DiscriminatorConfig = Field(default_factory=DiscriminatorConfig)


class OptimConfig(StrictModel):
    """Adam for the autoencoder and the discriminator (paper: lr 3.6e-5, betas (0.5, 0.9))."""

    steps: int = Field(100, ge=0, description="autoencoder training steps")
    lr: float = Field(2e-3, gt=0)
    betas: tuple[float, float] = (0.5, 0.9)
    log_every: int = Field(10, ge=1)
    checkpoint_every: int = Field(0, ge=0, description="0: only at the end")
    grad_accumulation: int = Field(
        1, ge=1, description="micro-batches per step on each rank (the global batch is data.batch_size)"
    )


class UNetConfig(StrictModel):
    """The latent denoiser: a U-Net with time embedding (paper: 224 × (1, 2, 3, 4), attention 8/16/32)."""

    channels: int = Field(16, ge=1)
    channel_mult: list[int] = Field(default_factory=lambda: [1, 2], min_length=1)
    num_res_blocks: int = Field(1, ge=1)
    attention_resolutions: list[int] = Field(default_factory=list, description="latent sides with attention")
    num_heads: int = Field(1, ge=1)
    groups: int = Field(4, ge=1)


class LatentConfig(StrictModel):
    """Latent DDPM on z (eq. 3): ε objective, linear β schedule, AdamW, EMA."""

    unet: UNetConfig = Field(default_factory=UNetConfig)
    num_steps: int = Field(1000, ge=2)
    beta_start: float = Field(0.0015, gt=0, lt=1)
    beta_end: float = Field(0.0195, gt=0, lt=1)
    steps: int = Field(100, ge=0, description="latent training steps")
    batch_size: int = Field(8, ge=1)
    lr: float = Field(1e-3, gt=0, description="paper 9.6e-5")
    weight_decay: float = Field(0.0, ge=0, description="paper 0.01")
    ema_decay: float = Field(0.99, ge=0, lt=1, description="paper 0.9999")
    stats_batches: int = Field(2, ge=1, description="batches used to measure the latent scale")
    grad_accumulation: int = Field(
        1, ge=1, description="micro-batches per step on each rank (the global batch is batch_size)"
    )


class ClipModelConfig(StrictModel):
    """An open_clip model from a local checkpoint (loaded through infd-metrics' ``load_clip``)."""

    model: str = "ViT-B-32"
    checkpoint: str = Field(description="local path or fsspec URL of the weights (never downloaded)")
    architecture: dict[str, Any] | str | None = Field(
        None, description="custom open_clip architecture (dict or JSON file), passed as model_config"
    )


class LayoutBox(StrictModel):
    """A box of the canvas, ``[x0, y0, x1, y1]`` in output pixels, and its text prompt."""

    box: tuple[float, float, float, float]
    prompt: str

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError("a box needs a non-empty prompt")
        return prompt

    @model_validator(mode="after")
    def _ordered(self) -> LayoutBox:
        x0, y0, x1, y1 = self.box
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"box {list(self.box)} must have x1 > x0 and y1 > y0")
        return self


class LayoutConfig(StrictModel):
    """§5.5: CLIP-guided sampling of a layout of boxes at any scale, by DPS on z."""

    boxes: list[LayoutBox] | str = Field(description="the boxes, or a YAML/TOML/JSON file holding them")
    clip: ClipModelConfig
    guidance_scale: float = Field(1.0, ge=0, description="weight of the CLIP-loss gradient on z_t")
    normalise: bool = Field(False, description="DPS: divide the gradient by √loss per sample")
    box_resolution: int | None = Field(None, ge=8, description="render side per box (default CLIP's, 224)")

    @field_validator("boxes", mode="before")
    @classmethod
    def _boxes(cls, boxes: Any) -> Any:
        return boxes if isinstance(boxes, str) else parse_boxes(boxes)


def parse_boxes(items: Any) -> list[LayoutBox]:
    """Layout boxes from a list of ``{box, prompt}`` mappings; errors name the offending box."""
    if not isinstance(items, list) or not items:
        raise ValueError("a layout needs a non-empty list of {box: [x0, y0, x1, y1], prompt: text}")
    boxes = []
    for i, item in enumerate(items):
        try:
            boxes.append(item if isinstance(item, LayoutBox) else LayoutBox.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(
                ".".join(str(p) for p in (f"boxes[{i}]", *e["loc"]))
                + ": "
                + e["msg"].removeprefix("Value error, ")
                for e in exc.errors()
            )
            raise ValueError(problems) from None
    return boxes


class SamplingConfig(StrictModel):
    """DDIM on z, decoding, tiled CLIF rendering into OME-Zarr; optionally a CLIP-guided layout."""

    steps: int = Field(20, ge=1, description="DDIM steps (paper 200)")
    eta: float = Field(1.0, ge=0, le=1)
    use_ema: bool = True
    batch_size: int = Field(4, ge=1)
    tile_size: int = Field(1024, ge=16, description="rendered tile = zarr shard side (power of two)")
    chunk: int = Field(256, ge=16, description="zarr chunk side (power of two, at most tile_size)")
    render_batch: int = Field(1, ge=1, description="tiles rendered per forward pass")
    render_precision: Literal["float32", "bfloat16"] = Field(
        "float32", description="arithmetic of CLIF while rendering tiles (bfloat16: GPU tensor cores)"
    )
    layout: LayoutConfig | None = None

    @model_validator(mode="after")
    def _powers(self) -> SamplingConfig:
        for name in ("tile_size", "chunk"):
            value = getattr(self, name)
            if value & (value - 1):
                raise ValueError(f"{name} must be a power of two, got {value}")
        return self


class EvaluateConfig(StrictModel):
    """pFID-P/R (infd-metrics' ``patch_fid``) of the written samples against real images, after sampling."""

    enabled: bool = Field(False, description="compute pFID after `infd sample` and write pfid.json")
    extractor: ComponentRef = Field(
        default_factory=lambda: ComponentRef(name="fid-inception"),
        description="an infd-metrics extractor: fid-inception, open-clip or random-features",
    )
    real: str | None = Field(None, description="folder/URL of real images (default: the training data)")
    num_real: int = Field(64, ge=2, description="real images drawn from the built-in training data")
    patch_size: int = Field(32, ge=8, description="P (paper: 256, 512, 1024)")
    resolution: int | None = Field(None, ge=8, description="R: shorter side before cropping (None: native)")
    crops_per_image: int = Field(1, ge=1)
    batch_size: int = Field(32, ge=1)


PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {},
    "paper": {
        "autoencoder": {
            "encoder_size": 256, "channels": 128, "channel_mult": [1, 2, 4], "num_res_blocks": 2,
            "latent_channels": 3, "norm_groups": 32, "codebook_size": 8192,
        },
        "renderer": {"hidden_channels": 256, "residual_blocks": 2},
        "data": {
            "patch_size": 256, "min_size": 256, "max_size": 1024, "batch_size": 8, "high_resolution": 512,
        },
        "loss": {"discriminator": {"layers": 3, "channels": 64}},
        "optim": {"lr": 3.6e-5},
        "latent": {
            "unet": {
                "channels": 224, "channel_mult": [1, 2, 3, 4], "num_res_blocks": 2,
                "attention_resolutions": [8, 16, 32], "num_heads": 8, "groups": 32,
            },
            "lr": 9.6e-5, "weight_decay": 0.01, "ema_decay": 0.9999,
        },
        "sampling": {"steps": 200, "eta": 1.0},
    },
}  # fmt: skip


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


class InfdConfig(StrictModel):
    """Everything INFD needs; ``preset`` fills sizes, explicit keys override them."""

    preset: Literal["tiny", "paper"] = "tiny"
    autoencoder: AutoencoderConfig = Field(default_factory=AutoencoderConfig)
    renderer: CLIFConfig = Field(
        default_factory=lambda: CLIFConfig(feature_channels=8, hidden_channels=16, residual_blocks=1),
        description="CLIF (feature_channels follows the autoencoder)",
    )
    data: DataConfig = Field(default_factory=DataConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    latent: LatentConfig = Field(default_factory=LatentConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        preset = data.get("preset", "tiny")
        if preset not in PRESETS:
            return data  # the Literal check reports it
        merged = _merge(PRESETS[preset], data)
        auto = AutoencoderConfig.model_validate(merged.get("autoencoder") or {})
        renderer = {"hidden_channels": 16, "residual_blocks": 1, **(merged.get("renderer") or {})}
        renderer.setdefault("feature_channels", auto.feature_channels)
        return {**merged, "renderer": renderer}

    @model_validator(mode="after")
    def _consistent(self) -> InfdConfig:
        if self.renderer.feature_channels != self.autoencoder.feature_channels:
            raise ValueError(
                f"renderer.feature_channels ({self.renderer.feature_channels}) must equal the decoder's "
                f"output channels, autoencoder.channels × channel_mult[0] "
                f"({self.autoencoder.feature_channels})"
            )
        low = self.data.min_size or self.data.patch_size
        if low < self.data.patch_size or (self.data.max_size is not None and self.data.max_size < low):
            raise ValueError("data: need patch_size <= min_size <= max_size")
        latent = self.autoencoder.latent_size
        if latent % 2 ** (len(self.latent.unet.channel_mult) - 1):
            raise ValueError(f"the latent side {latent} is not divisible by 2^(len(unet.channel_mult) - 1)")
        return self
