"""Pydantic configuration of the GUD pipeline (no torch import).

Tiny defaults make CPU runs take seconds; the paper's values are noted in each field's description
(GUD App. B: batch 128, Adam 5e-4, EMA 0.999, λ_i = σ_i²).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from infd_core.config import FloatOrInfinity, StrictModel

#: [low, high]; the high end may be .inf where a field allows it (checked by _ordered)
Range = tuple[FloatOrInfinity, FloatOrInfinity]


def merge_sections(base: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` over ``base`` section by section (one level deep): explicit keys win."""
    merged = {**base, **data}
    for key, value in base.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            merged[key] = {**value, **data[key]}
    return merged


def _ordered(name: str, value: Range | None, low: float, high: float, high_open: bool) -> Range | None:
    if value is None:
        return None
    lo, hi = float(value[0]), float(value[1])
    top_ok = hi < high if high_open else hi <= high
    if not (low <= lo <= hi and top_ok):
        bracket = ")" if high_open else "]"
        raise ValueError(
            f"{name} must be [low, high] with {low} <= low <= high, high in [{low}, {high}{bracket}"
        )
    return lo, hi


class DataSettings(StrictModel):
    """Training images: crops of infd-io's built-in photographs, an image folder or URL (labels from
    sub-folders), CIFAR-10 binary batches or PCam HDF5 files (local paths)."""

    source: str = Field(
        "builtin",
        description="'builtin' (photographs of infd-io), an image folder/URL, CIFAR-10 binary batches "
        "(a data_batch_N.bin, or a folder of them) or a PCam _x.h5 file",
    )
    format: Literal["auto", "folder", "cifar10-binary", "pcam-hdf5"] = Field(
        "auto", description="auto: .bin or a folder with data_batch_*.bin → CIFAR-10, .h5 → PCam, else folder"
    )
    labels: str | None = Field(None, description="PCam: the _y.h5 file (default: the one beside source)")
    classes: list[int | str] | None = Field(
        None, description="train on these classes only (label numbers, CIFAR-10 names, sub-folder names)"
    )
    holdout: int = Field(
        16, ge=1, description="file sources: images held out for the NLL and completion (never trained on)"
    )
    resolution: int = Field(
        16, ge=4, description="image side (training width L); a power of two for the U-Net"
    )
    channels: Literal[1, 3] = 3
    num_items: int = Field(512, ge=2, description="distinct crops to train on")
    fit_items: int = Field(512, ge=2, description="crops used to fit the basis (PCA) and prior statistics")
    min_crop_fraction: float = Field(0.25, gt=0, le=1)
    seed: int = Field(0, ge=0, description="seed of the crops")


class BasisSettings(StrictModel):
    """The orthogonal basis U of the diffused components (built through infd-measures' registry)."""

    name: Literal["pixel", "pca", "fft", "haar"] = "pca"
    levels: int = Field(2, ge=1, description="Haar levels N")
    eigenvalue_floor: float = Field(1e-6, gt=0, description="PCA eigenvalue floor relative to the largest")


class PriorSettings(StrictModel):
    """The prior N(0, I) in whitened components: 'isotropic' (S = 1) or 'data' (whitened, S² = Σ)."""

    kind: Literal["isotropic", "data"] = "data"
    per_channel: bool = False


class ScheduleSettings(StrictModel):
    """Component-wise schedule; ``*_range`` draws the parameter uniformly per training batch (§4.5)."""

    name: Literal["linear-soft", "columnwise", "haar-columnwise"] = "linear-soft"
    softness: FloatOrInfinity = Field(
        1.0, gt=0, description="linear-soft softness 1/a; .inf is standard diffusion"
    )
    softness_range: Range | None = Field(None, description="[low, high] softness drawn per batch")
    ordering_r: float = Field(0.0, ge=0, le=1, description="ordering l = (1-r)(-log Σ) + r |k| (FFT, Haar)")
    a: float = Field(0.5, ge=0, lt=1, description="haar-columnwise level offset scale")
    a_range: Range | None = None
    b: float = Field(0.5, ge=0, lt=1, description="column offset scale (columnwise, haar-columnwise)")
    b_range: Range | None = None
    gamma_denoise: float = Field(-7.0, description="γ̃_denoise")
    gamma_noise: float | None = Field(None, description="γ̃_noise; null: max[3, logit(σ_min²) - min log Σ]")
    sigma_min: float = Field(0.99, gt=0, lt=1)

    @field_validator("softness_range")
    @classmethod
    def _softness_range(cls, value: Range | None) -> Range | None:
        checked = _ordered("softness_range", value, 0.0, math.inf, high_open=False)
        if checked is not None and checked[0] <= 0:
            raise ValueError("softness_range must lie in (0, inf]")
        return checked

    @field_validator("a_range", "b_range")
    @classmethod
    def _unit_range(cls, value: Range | None) -> Range | None:
        return _ordered("a_range/b_range", value, 0.0, 1.0, high_open=True)


class NetworkSettings(StrictModel):
    """The γ-conditioned U-Net (GUD App. A): MLP-mixer over [γ, position labels], cross-attention."""

    input: Literal["image", "whitened"] = Field(
        "image",
        description="image: the state mapped back to image space, Uᵀ S z (App. B); whitened: Uᵀ z",
    )
    base_channels: int = Field(16, ge=4)
    channel_mult: tuple[int, ...] = Field((1, 2), min_length=1, description="per U-Net level")
    res_blocks: int = Field(1, ge=1, description="residual blocks per U-Net level")
    attention_resolutions: tuple[int, ...] = Field(
        (), description="feature-map sides with self-attention after each residual block"
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout inside the residual blocks")
    token_dim: int = Field(32, ge=4, description="width of the γ-token embedding")
    mixer_blocks: int = Field(2, ge=1)
    mixer_hidden: int = Field(64, ge=4, description="hidden width of the token-mixing MLP")
    heads: int = Field(2, ge=1)
    groups: int = Field(4, ge=1, description="GroupNorm groups (must divide every width)")


class TrainingSettings(StrictModel):
    """Denoising score matching with λ_i = σ_i² (eq. 12); paper: batch 128, lr 5e-4, EMA 0.999."""

    steps: int = Field(20, ge=0)
    batch_size: int = Field(8, ge=1, description="global batch over all ranks (paper: 128)")
    grad_accumulation: int = Field(1, ge=1, description="micro-batches per step on each rank")
    lr: float = Field(5e-4, gt=0, description="Adam learning rate (paper: 5e-4)")
    ema_decay: float = Field(0.999, ge=0, lt=1, description="paper: 0.999")
    grad_clip: float | None = Field(1.0, gt=0)
    t_min: float = Field(1e-3, ge=0, lt=1, description="times drawn uniformly (stratified) in [t_min, 1]")
    log_every: int = Field(10, ge=1)
    plot_components: int = Field(6, ge=1, description="components drawn in the schedule plot")


class SamplingSettings(StrictModel):
    """Reverse SDE (Euler-Maruyama) or probability-flow ODE with the component-wise schedule."""

    method: Literal["sde", "ode"] = "ode"
    solver: Literal["euler", "heun", "rk4", "rk45"] = "heun"
    steps: int = Field(20, ge=1)
    use_ema: bool = True
    batch_size: int = Field(4, ge=1)


class LikelihoodSettings(StrictModel):
    """NLL in bits/dim by the PF-ODE with Hutchinson traces and uniform dequantisation (App. B)."""

    enabled: bool = True
    num_images: int = Field(2, ge=1)
    solvers: tuple[Literal["euler", "heun", "rk4", "rk45"], ...] = Field(("rk45", "heun"), min_length=1)
    steps: int = Field(40, ge=1, description="fixed-step grid (first-step hint for rk45)")
    rtol: float = Field(1e-4, gt=0, description="paper: 1e-4")
    atol: float = Field(1e-4, gt=0, description="paper: 1e-4")
    probe: Literal["rademacher", "gaussian"] = "rademacher"
    num_probes: int = Field(3, ge=1, description="Hutchinson probes averaged per image (paper: 3)")
    t_min: float = Field(1e-3, gt=0, lt=1)


class ExtensionSettings(StrictModel):
    """Infinite extension (§5.2, App. C) with a column-wise schedule, and completion (Fig. 8)."""

    enabled: bool = False
    width: int = Field(128, ge=2, description="strip width in pixels")
    columns: int = Field(4, ge=1, description="columns k finished per window (k < training width)")
    steps_per_window: int = Field(4, ge=1)
    sampler: Literal["sde", "ddim", "ode"] = Field(
        "sde",
        description="within each window: reverse SDE, DDIM (eta 0) or the PF-ODE with sampling.solver; "
        "the deterministic ones leave a partly trained model's residual noise in the strip",
    )
    window_time: float | None = Field(None, gt=0, le=1, description="t_w; null: b")
    tile_size: int = Field(16, ge=8, description="OME-Zarr tile side (power of two)")
    completion: bool = False
    given_columns: int = Field(8, ge=1, description="completion: columns taken from a real image")


class GudConfig(StrictModel):
    """The ``gud`` pipeline; ``preset: paper`` fills in the paper's settings (App. A/B), explicit keys win."""

    preset: Literal["tiny", "paper"] = "tiny"
    data: DataSettings = Field(default_factory=DataSettings)
    basis: BasisSettings = Field(default_factory=BasisSettings)
    prior: PriorSettings = Field(default_factory=PriorSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    sampling: SamplingSettings = Field(default_factory=SamplingSettings)
    likelihood: LikelihoodSettings = Field(default_factory=LikelihoodSettings)
    extension: ExtensionSettings = Field(default_factory=ExtensionSettings)

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("preset", "tiny") != "paper":
            return data
        from infd_gud.presets import PAPER

        return merge_sections(PAPER, data)

    @model_validator(mode="after")
    def _consistent(self) -> GudConfig:
        res, name = self.data.resolution, self.schedule.name
        if name == "columnwise" and self.basis.name != "pixel":
            raise ValueError("the columnwise schedule needs basis.name: pixel")
        if name == "haar-columnwise" and self.basis.name != "haar":
            raise ValueError("the haar-columnwise schedule needs basis.name: haar")
        if self.basis.name == "haar" and res % (2**self.basis.levels):
            raise ValueError(f"data.resolution {res} must be divisible by 2^basis.levels")
        if res % (2 ** (len(self.network.channel_mult) - 1)):
            raise ValueError(f"data.resolution {res} must be divisible by 2^(len(channel_mult) - 1)")
        holdout = self.data.holdout
        if self.data.source != "builtin" and self.likelihood.enabled and self.likelihood.num_images > holdout:
            raise ValueError(f"likelihood.num_images {self.likelihood.num_images} > data.holdout {holdout}")
        if self.extension.enabled or self.extension.completion:
            if name != "columnwise":
                raise ValueError("extension/completion needs schedule.name: columnwise (pixel basis)")
            if self.extension.enabled and self.extension.columns >= res:
                raise ValueError(
                    f"extension.columns (strip step k = {self.extension.columns}) must be < the training "
                    f"width {res}"
                )
            if self.extension.completion and self.extension.given_columns >= res:
                raise ValueError(f"extension.given_columns must be < the training width {res}")
        return self


__all__ = [
    "BasisSettings",
    "DataSettings",
    "ExtensionSettings",
    "GudConfig",
    "LikelihoodSettings",
    "NetworkSettings",
    "PriorSettings",
    "SamplingSettings",
    "ScheduleSettings",
    "TrainingSettings",
]
