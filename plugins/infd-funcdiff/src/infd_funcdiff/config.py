"""Pydantic configs of the funcdiff pipeline, its datasets and neural operators (no torch import)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from infd_core.config import StrictModel

KernelName = Literal["matern12", "exponential", "matern32", "matern52", "rbf"]


class MoGPConfig(StrictModel):
    """Two GP components (RBF) with means ``slope·x + offset`` and its negation, equal weights."""

    num_curves: int = Field(600, ge=2, description="total curves (half per component)")
    num_points: int = Field(100, ge=4, description="points per curve")
    irregular: bool = Field(False, description="sorted uniform random points per curve instead of a grid")
    variance: float = Field(0.4, gt=0)
    length_scale: float = Field(0.1, gt=0)
    slope: float = 10.0
    offset: float = -5.0
    seed: int = Field(0, ge=0, description="seed of the generated data (independent of the run seed)")


class GPConfig(StrictModel):
    """One zero-mean GP with a known stationary kernel (e.g. to check conditioning against GP regression)."""

    num_curves: int = Field(600, ge=2)
    num_points: int = Field(100, ge=4)
    irregular: bool = False
    kernel: KernelName = "rbf"
    variance: float = Field(1.0, gt=0)
    length_scale: float = Field(0.2, gt=0)
    seed: int = Field(0, ge=0, description="seed of the generated data (independent of the run seed)")


class LinearConfig(StrictModel):
    """Random lines ``a x + b`` with a ~ N(slope_mean, slope_std²), b ~ N(bias_mean, bias_std²)."""

    num_curves: int = Field(600, ge=2)
    num_points: int = Field(100, ge=4)
    irregular: bool = False
    slope_mean: float = 2.0
    slope_std: float = Field(0.5, gt=0)
    bias_mean: float = -1.0
    bias_std: float = Field(0.07**0.5, gt=0)
    seed: int = Field(0, ge=0)


class FileCurvesConfig(StrictModel):
    """User curves from an NPZ or CSV file, read through infd-io (first value column used)."""

    path: str
    x_key: str = "x"
    y_keys: list[str] = Field(default_factory=lambda: ["y"], min_length=1, max_length=1)
    curve_column: str = "curve"


class DataConfig(StrictModel):
    """Which curves to train on; ``scale_range`` is the min–max target interval (kept in checkpoints)."""

    kind: Literal["mogp", "gp", "linear", "file"] = "mogp"
    mogp: MoGPConfig = Field(default_factory=MoGPConfig)
    gp: GPConfig = Field(default_factory=GPConfig)
    linear: LinearConfig = Field(default_factory=LinearConfig)
    file: FileCurvesConfig | None = None
    scale_range: tuple[float, float] = (-3.0, 3.0)

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if self.kind == "file" and self.file is None:
            raise ValueError("data.kind 'file' needs data.file.path")
        if not self.scale_range[0] < self.scale_range[1]:
            raise ValueError("scale_range must be (low, high) with low < high")
        return self


class NoiseConfig(StrictModel):
    """The GP noise measure N(0, C) on each curve's points (infd-measures kernels)."""

    kernel: KernelName = "matern12"
    variance: float = Field(1.0, gt=0)
    length_scale: float = Field(0.1, gt=0)
    jitter: float = Field(1e-6, ge=0, description="relative jitter added to the Gram matrix")


class ScheduleConfig(StrictModel):
    num_steps: int = Field(1000, ge=1)
    beta_start: float = Field(1e-4, gt=0, lt=1)
    beta_end: float = Field(0.02, gt=0, lt=1)


class FNOConfig(StrictModel):
    """1-D Fourier neural operator on regular grids: lift (u, x, t) → width, spectral layers, project."""

    width: int = Field(32, ge=1)
    modes: int = Field(16, ge=1)
    layers: int = Field(4, ge=1)
    projection: int = Field(128, ge=1)


class GNOConfig(StrictModel):
    """Graph neural operator: radius graph, edge-conditioned kernel κ(x_i, x_j), mean aggregation."""

    kernel: Literal["diagonal", "matrix"] = Field(
        "diagonal",
        description="diagonal: per-channel κ ⊙ (U v_j); matrix: a full C×C kernel per edge (the reference's "
        "edge-conditioned convolution)",
    )
    width: int = Field(32, ge=1)
    layers: int = Field(3, ge=1)
    radius: float = Field(0.1, gt=0)
    kernel_width: int = Field(64, ge=1)
    projection: int = Field(128, ge=1)


class ModelConfig(StrictModel):
    kind: Literal["fno", "gno"] = "fno"
    fno: FNOConfig = Field(default_factory=FNOConfig)
    gno: GNOConfig = Field(default_factory=GNOConfig)


class TrainConfig(StrictModel):
    steps: int = Field(300, ge=0)
    batch_size: int = Field(64, ge=1, description="global batch over all ranks")
    grad_accumulation: int = Field(1, ge=1, description="micro-batches per step on each rank")
    lr: float = Field(1e-3, gt=0)
    lr_step: int = Field(0, ge=0, description="StepLR period in steps (0: constant learning rate)")
    lr_gamma: float = Field(0.1, gt=0, le=1)
    ema_decay: float = Field(0.0, ge=0, lt=1, description="EMA of the weights used for sampling (0: off)")


class ConditionConfig(StrictModel):
    """Observed points to condition on (replacement conditioning) and the unconditioned final stretch."""

    coords: list[float] = Field(min_length=1)
    values: list[float] = Field(min_length=1, description="observed values in data units")
    free_steps: int = Field(0, ge=0, description="last sampler steps without conditioning (soft)")

    @model_validator(mode="after")
    def _check(self) -> ConditionConfig:
        if len(self.coords) != len(self.values):
            raise ValueError("condition.coords and condition.values must have the same length")
        return self


class SamplingConfig(StrictModel):
    """How ``sample`` draws: points, sampler steps, conditioning; ``run.sample.size`` overrides points."""

    num_points: int | None = Field(None, ge=2, description="grid points (default: the training count)")
    irregular: bool = Field(False, description="sorted uniform random points instead of a grid")
    steps: int = Field(100, ge=1, description="DDPM steps (evenly spaced sub-sequence of T)")
    batch_size: int = Field(250, ge=1)
    condition: ConditionConfig | None = None


class FuncDiffConfig(StrictModel):
    """The funcdiff pipeline: data, GP noise, loss, neural operator, training and sampling."""

    data: DataConfig = Field(default_factory=DataConfig)
    noise: NoiseConfig = Field(default_factory=NoiseConfig)
    loss: Literal["l2", "spectral", "sobolev"] = "l2"
    spectral_terms: int = Field(32, ge=1, description="eigenpairs of the spectral L2 loss")
    sobolev_eig_floor: float = Field(1e-5, gt=0, description="eigenvalue clip of the Sobolev loss")
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
