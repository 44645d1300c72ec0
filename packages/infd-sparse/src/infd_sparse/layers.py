"""``nn.Module`` wrapper of the sparse depthwise convolution, configured by a pydantic model."""

from __future__ import annotations

import math

import torch
from pydantic import Field

from infd_core.config import StrictModel
from infd_sparse.conv import depthwise_conv
from infd_sparse.dense import DenseWindow, dense_depthwise_conv_points
from infd_sparse.kernels import resize_kernel
from infd_sparse.neighbours import NeighbourMap, check_kernel_size


class SparseConvConfig(StrictModel):
    """A depthwise sparse convolution layer (∞-Diff: k = 7, 64 channels, count-normalised)."""

    channels: int = Field(64, ge=1)
    kernel_size: int = Field(7, ge=1)
    bias: bool = True
    normalise: bool = True
    backend: str = Field("auto", description="auto (hook choice), torch, triton, or a plugin's name")


class SparseDepthwiseConv(torch.nn.Module):
    """Learned ``[C, k, k]`` kernel applied over a :class:`NeighbourMap` or, on full grids, a dense window."""

    def __init__(self, config: SparseConvConfig | None = None) -> None:
        super().__init__()
        self.config = config or SparseConvConfig()
        k = check_kernel_size(self.config.kernel_size)
        c = self.config.channels
        bound = 1.0 / math.sqrt(k * k)
        self.weight = torch.nn.Parameter(torch.empty(c, k, k).uniform_(-bound, bound))
        self.bias = torch.nn.Parameter(torch.zeros(c)) if self.config.bias else None

    def kernel_for(self, scale: float = 1.0, channels: slice = slice(None)) -> torch.Tensor:
        """The kernel of ``channels``, resized for ``scale`` × the training resolution."""
        weight = self.weight[channels]
        return weight if scale == 1.0 else resize_kernel(weight, scale)

    def forward(
        self,
        values: torch.Tensor,
        neighbours: NeighbourMap | DenseWindow,
        scale: float = 1.0,
        channels: slice = slice(None),
    ) -> torch.Tensor:
        """``values [N, C]`` over a neighbour map (any point set) or a dense window (every pixel).

        ``channels``: the layer's channels that ``values`` holds (all by default); the convolution is
        depthwise, so any subset gives those channels' outputs."""
        kernel = self.kernel_for(scale, channels)
        bias = self.bias[channels] if self.bias is not None else None
        if isinstance(neighbours, DenseWindow):
            return dense_depthwise_conv_points(values, neighbours, kernel, bias, self.config.normalise)
        return depthwise_conv(values, neighbours, kernel, bias, self.config.normalise, self.config.backend)
