"""Pydantic configs of the renderers and of tiled rendering (imports no torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from infd_core.config import StrictModel


class _Config(StrictModel):
    """Base of this package's configs: unknown keys and non-finite numbers are errors."""


class LIIFConfig(_Config):
    """LIIF (Chen et al. 2021): a pointwise MLP on the nearest feature, relative coordinate and cell."""

    feature_channels: int = Field(64, ge=1, description="channels of the feature map")
    hidden_channels: list[int] = Field([256, 256, 256, 256], description="widths of the MLP's hidden layers")
    out_channels: int = Field(3, ge=1)
    feature_unfold: bool = Field(True, description="concatenate each feature's 3x3 neighbourhood")
    local_ensemble: bool = Field(True, description="blend the four nearest features by opposite areas")
    cell_decode: bool = Field(True, description="give the MLP the query cell size")
    chunk_size: int | None = Field(
        None,
        ge=64,
        description="query points per MLP call, the same in every call for exact tiling "
        "(default 4096 on CPU, 65536 on GPU)",
    )


class CLIFConfig(_Config):
    """CLIF (INFD Fig. 3): nearest feature + relative coordinate + pixel size, rendered by a small CNN.

    The paper's GroupNorm is replaced by a per-pixel LayerNorm over channels (``norm="layer"``): it takes
    no spatial statistics, so tiles equal a whole-image render exactly.
    """

    feature_channels: int = Field(128, ge=1)
    hidden_channels: int = Field(256, ge=1)
    out_channels: int = Field(3, ge=1)
    residual_blocks: int = Field(2, ge=0, description="residual blocks of two 3x3 convs each")
    kernel_size: int = Field(3, ge=1, description="odd kernel size of every conv")
    norm: Literal["layer", "none"] = Field("layer", description="per-pixel normalisation over channels")
    conv_impl: Literal["native", "gemm"] = Field(
        "gemm",
        description="gemm: gathered k×k patches times the flattened kernel in fixed-shape matrix products "
        "(bit-exact across tiles); native: torch conv2d, whose algorithm may depend on the input shape "
        "(not always tile-exact)",
    )
    gemm_chunk: int | None = Field(
        None,
        ge=64,
        description="pixels per matrix product with conv_impl=gemm (default 4096 on CPU, 65536 on GPU)",
    )


class TilingConfig(_Config):
    """How a region is split into tiles and rendered."""

    tile_size: int = Field(1024, ge=1, description="side of the square output tiles")
    halo: int | None = Field(None, ge=0, description="pixels around each tile (default: receptive field)")
    batch_size: int = Field(1, ge=1, description="tiles of equal shape rendered in one forward pass")
    write_ahead: int = Field(
        2, ge=0, description="tiles rendered ahead of the background writer (0: write each tile in turn)"
    )
