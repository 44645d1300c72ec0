"""Building blocks whose per-pixel arithmetic does not depend on the tile they are evaluated in.

* :class:`Borders` says which sides of a window lie on the true image border. :class:`BorderConv2d`
  pads zeros there only; on the other sides it is a *valid* convolution and the window shrinks, so a
  halo (never zero padding) supplies the context at tile borders.
* :class:`ChannelLayerNorm` normalises each pixel over its channels: no spatial statistics.
* :func:`exact_silu` avoids torch's ``exp``, whose last bits depend on the tensor's size.
* :func:`fixed_rows` evaluates a row-wise function in calls of one fixed number of rows, so matrix
  products never switch kernels (e.g. to a matrix-vector path for few rows) between tile shapes; their
  weights are contiguous ``(K, N)`` matrices, since MKL's AVX2 kernels for a transposed weight round a row
  by its position in the call.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


@dataclasses.dataclass(frozen=True)
class Borders:
    """Which sides of a window (top, bottom, left, right) are the true image border."""

    top: bool = True
    bottom: bool = True
    left: bool = True
    right: bool = True

    def crop(self, x: torch.Tensor, radius: int) -> torch.Tensor:
        """Drop ``radius`` pixels on every side that is not an image border (what valid convs lose)."""
        if radius == 0:
            return x
        height, width = x.shape[-2:]
        y0, x0 = (0 if self.top else radius), (0 if self.left else radius)
        y1, x1 = height - (0 if self.bottom else radius), width - (0 if self.right else radius)
        return x[..., y0:y1, x0:x1]


WHOLE_IMAGE = Borders()


#: Rows per matrix product when a config leaves it unset: small on CPUs (cache-sized), large on GPUs
#: (one product per 4096 rows would leave an H100 waiting on kernel launches).
DEFAULT_ROWS = {"cpu": 4096, "cuda": 65536}


def rows_per_call(configured: int | None, device: torch.device) -> int:
    """``configured``, or the device's default (:data:`DEFAULT_ROWS`; 4096 for other devices)."""
    return configured if configured is not None else DEFAULT_ROWS.get(device.type, 4096)


def fixed_rows(
    fn: Callable[[torch.Tensor], torch.Tensor], rows: torch.Tensor, chunk: int | None
) -> torch.Tensor:
    """``fn`` applied to ``rows`` (N, K) in calls of exactly ``chunk`` rows (the last one zero-padded;
    ``None``: :func:`rows_per_call`)."""
    chunk = rows_per_call(chunk, rows.device)
    total = rows.shape[0]
    out = None
    for start in range(0, total, chunk):
        block = rows[start : start + chunk]
        count = block.shape[0]
        if count < chunk:
            block = torch.cat([block, block.new_zeros(chunk - count, *block.shape[1:])])
        result = fn(block)
        if out is None:  # written in place: no concatenated copy of every call's output
            out = result.new_empty(total, *result.shape[1:])
        out[start : start + count] = result[:count]
    return out if out is not None else rows.new_zeros(0, 0)


class BorderConv2d(nn.Conv2d):
    """A stride-1 conv with zero padding on image-border sides only (valid elsewhere).

    ``impl="gemm"`` (exact for every channel count and backend tried): each output pixel's k×k×C_in
    patch is gathered from channels-last pixels and multiplied by the flattened kernel, in products of
    exactly ``chunk`` rows (the last zero-padded), so no pixel's arithmetic depends on the window.
    ``impl="native"``: ``conv2d``, whose CPU/cuDNN algorithm may depend on the input shape (bit-exact
    across tiles on CPU at 132→256 channels, not at small channel counts).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        impl: str = "gemm",
        chunk: int | None = None,
    ) -> None:
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        super().__init__(in_channels, out_channels, kernel_size)
        self.impl, self.chunk = impl, chunk

    @property
    def radius(self) -> int:
        return (self.kernel_size[0] - 1) // 2 * self.dilation[0]

    def forward(self, x: torch.Tensor, borders: Borders = WHOLE_IMAGE) -> torch.Tensor:  # type: ignore[override]
        r = self.radius
        pads = (
            r if borders.left else 0,
            r if borders.right else 0,
            r if borders.top else 0,
            r if borders.bottom else 0,
        )
        x = F.pad(x, pads)
        if self.impl == "native":
            return F.conv2d(x, self.weight, self.bias)
        return self._patch_gemm(x)

    def _patch_gemm(self, x: torch.Tensor) -> torch.Tensor:
        """Valid conv as ``[chunk, k²·C_in] @ [k²·C_in, C_out]`` products of gathered patches."""
        batch, channels, height, width = x.shape
        k = self.kernel_size[0]
        out_h, out_w = height - k + 1, width - k + 1
        pixels = x.permute(0, 2, 3, 1).reshape(-1, channels)  # channels-last rows (one copy)
        rows = torch.arange(out_h, device=x.device) * width
        corners = (
            (torch.arange(batch, device=x.device) * (height * width))[:, None, None]
            + rows[None, :, None]
            + torch.arange(out_w, device=x.device)[None, None, :]
        ).reshape(-1)
        steps = torch.arange(k, device=x.device)
        taps = (steps[:, None] * width + steps).reshape(-1)  # row offsets of the k×k patch, tap order
        matrix = self.weight.permute(2, 3, 1, 0).reshape(k * k * channels, -1)

        def product(block: torch.Tensor) -> torch.Tensor:  # ``block``: top-left input rows of patches
            patches = pixels[(block[:, None] + taps).reshape(-1)].reshape(block.shape[0], -1)
            return patches @ matrix if self.bias is None else torch.addmm(self.bias, patches, matrix)

        out = fixed_rows(product, corners, self.chunk)  # padded corners (0) gather valid rows
        return out.reshape(batch, out_h, out_w, self.out_channels).permute(0, 3, 1, 2)


_LN2_HI, _LN2_LO = 0.693145751953125, 1.428606765330187e-06
_EXP_TAYLOR = [1 / math.factorial(n) for n in range(8, -1, -1)]


def exact_exp(x: torch.Tensor) -> torch.Tensor:
    """``exp`` of float32 values from correctly rounded operations only (+, ×, round, bit shifts).

    torch's own ``exp`` gives different last bits in its vectorised and scalar loops, and which
    elements take which loop depends on the tensor's size, so it is not tile-independent.
    """
    x = x.clamp(-87.0, 88.0)
    k = torch.round(x * (1 / math.log(2)))
    r = x.sub_(k * _LN2_HI).sub_(k * _LN2_LO)  # x is clamp's fresh copy: reuse it
    p = r * _EXP_TAYLOR[0]
    p.add_(_EXP_TAYLOR[1])
    for coefficient in _EXP_TAYLOR[2:]:  # in place: the same rounded operations, fewer allocations
        p.mul_(r).add_(coefficient)
    two_k = k.to(torch.int32).add_(127).bitwise_left_shift_(23).view(torch.float32)
    return p.mul_(two_k)


def exact_silu(x: torch.Tensor) -> torch.Tensor:
    """``x * sigmoid(x)`` with :func:`exact_exp` for float32 on CPU; torch's SiLU elsewhere.

    On CUDA torch evaluates the same scalar ``exp`` for every element whatever the tensor's size (its
    kernels vectorise loads, not arithmetic), and the polynomial would cost ~20 passes over memory
    instead of one; ``pytest -m gpu`` checks that tiles still equal whole-image renders there.
    """
    if x.dtype != torch.float32 or x.device.type == "cuda":
        return F.silu(x)
    return x / exact_exp(-x).add_(1)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of each pixel of ``(B, C, H, W)`` (no spatial statistics)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def receptive_field_radius(module: nn.Module) -> int:
    """Receptive-field radius in pixels, read from the network: the sum of its convs' radii.

    Exact for a chain of stride-1 convs; an upper bound when convs sit on parallel paths (a residual
    skip adds none). Strided or non-odd convs are refused, since tiling assumes a pixel-aligned output.
    """
    radius = 0
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            k, d, s = layer.kernel_size[0], layer.dilation[0], layer.stride[0]
            if layer.kernel_size[0] != layer.kernel_size[1] or s != 1 or layer.stride[1] != 1 or k % 2 != 1:
                raise ValueError(f"tiled rendering needs square odd stride-1 convs, got {layer}")
            radius += (k - 1) // 2 * d
    return radius
