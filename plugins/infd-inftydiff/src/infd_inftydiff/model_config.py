"""Sizes of the ∞-Diff denoiser (paper Fig. 4, App. A); tiny defaults, the paper's sizes as a preset."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from infd_core.config import StrictModel


class GridUNetConfig(StrictModel):
    """The grid U-Net in the style of Nichol & Dhariwal (2021)."""

    resolution: int = Field(8, ge=4, description="side of the fixed inner grid")
    channels: int = Field(32, ge=8, description="channels at the highest grid resolution")
    channel_mult: list[int] = Field(default_factory=lambda: [1, 2], min_length=1)
    num_res_blocks: int = Field(1, ge=1)
    attention_resolutions: list[int] = Field(default_factory=lambda: [4])
    num_heads: int = Field(4, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    dropout_resolutions: list[int] | None = Field(
        None, description="grid sides whose ResBlocks use dropout (paper: [16, 8]); none: every block"
    )
    groups: int = Field(8, ge=1, description="GroupNorm groups (divides every channel count)")

    @model_validator(mode="after")
    def _check(self) -> GridUNetConfig:
        levels = len(self.channel_mult)
        if self.resolution % (2 ** (levels - 1)):
            raise ValueError(
                f"resolution {self.resolution} is not divisible by 2^{levels - 1} (channel_mult)"
            )
        for mult in self.channel_mult:
            if (self.channels * mult) % self.groups:
                raise ValueError(f"groups {self.groups} must divide every channel count")
        return self


class DenoiserConfig(StrictModel):
    """The whole multi-scale denoiser: sparse blocks around a grid U-Net."""

    in_channels: int = Field(3, ge=1)
    out_channels: int = Field(3, ge=1)
    sparse_channels: int = Field(16, ge=4, description="channels of the sparse level (paper: 64)")
    sparse_blocks: int = Field(1, ge=1, description="sparse residual blocks on each side (paper: 3)")
    kernel_size: int = Field(7, ge=1, description="sparse depthwise kernel at the training resolution")
    mlp_ratio: int = Field(2, ge=1, description="hidden width of the three-layer MLP / channels")
    train_resolution: int = Field(32, ge=4, description="image side the kernels were trained at")
    sparse_backend: str = Field("auto", description="auto, torch, triton, ...")
    latent_dim: int = Field(0, ge=0, description="diffusion-autoencoder latent size (paper: 1024; 0: off)")
    interpolation: Literal["bilinear", "knn"] = Field(
        "bilinear",
        description="points onto the inner grid: 'knn' (paper: k nearest, inverse squared distances) "
        "or 'bilinear' (splatting; cells without nearby points stay 0)",
    )
    knn_neighbours: int = Field(3, ge=1, description="k of the 'knn' interpolation (paper: 3)")
    grid: GridUNetConfig = Field(default_factory=GridUNetConfig)

    @model_validator(mode="after")
    def _odd_kernel(self) -> DenoiserConfig:
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        return self


def paper_preset(resolution: int = 256) -> dict[str, Any]:
    """The FFHQ-256 model of ∞-Diff (App. A): 3 sparse blocks of 64 channels, k = 7, k = 3 nearest
    neighbours onto an inner grid of 128, U-Net base 128 with multipliers (1, 2, 4, 8, 8), attention and
    dropout 0.1 at 16 and 8, a diffusion autoencoder with a 1024-d latent."""
    return {
        "sparse_channels": 64,
        "sparse_blocks": 3,
        "kernel_size": 7,
        "mlp_ratio": 2,
        "train_resolution": resolution,
        "latent_dim": 1024,
        "interpolation": "knn",
        "knn_neighbours": 3,
        "grid": {
            "resolution": 128,
            "channels": 128,
            "channel_mult": [1, 2, 4, 8, 8],
            "num_res_blocks": 2,
            "attention_resolutions": [16, 8],
            "num_heads": 4,
            "dropout": 0.1,
            "dropout_resolutions": [16, 8],
            "groups": 32,
        },
    }


def tiny_preset(resolution: int = 32) -> dict[str, Any]:
    """Small enough to train in minutes on a CPU (the defaults of :class:`DenoiserConfig`)."""
    return {"train_resolution": resolution}


PRESETS = {"tiny": tiny_preset, "paper": paper_preset}
