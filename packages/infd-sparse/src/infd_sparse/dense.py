"""The count-normalised depthwise convolution on full grids: dense kernels instead of neighbour maps.

On a grid where every pixel is a point, :func:`infd_sparse.conv.depthwise_conv` over a neighbour map is
an ordinary depthwise cross-correlation with zero padding, divided by the number of pixels of the image
under each window. That number is separable, ``rows(y) · columns(x)``, and known in closed form, so no
``O(N · k²)`` index tensor is needed:

* ``direct``: ``conv2d(groups=C)``, cost ``∝ N · k²`` (fast for the training-size kernels);
* ``fft``: real FFTs of the window padded by the kernel radius (overlap-save), cost ``∝ N log N``
  whatever ``k`` (kernels resized for a large output grow with the scale factor);
* ``auto``: the cheaper of the two by a simple operation count.

A :class:`DenseWindow` is a rectangle of a larger image (a tile with its halo): values outside the
image are zero, as in the sparse convolution, while outputs within ``radius`` of a window edge that is
not an image edge lack inputs and must be discarded by the caller (:class:`infd_sparse.evaluation.GridTiles`
does so).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch
import torch.nn.functional as F

from infd_sparse.errors import SparseInputError

Method = Literal["auto", "direct", "fft"]

#: operations per ``P log₂ P`` of an FFT convolution relative to one multiply-add of ``conv2d``
#: (two forward transforms, one inverse, the product; measured on a 2-core CPU, within 2×)
FFT_COST = 8.0
#: bytes of the padded planes transformed at once by the FFT path
FFT_CHUNK_BYTES = 32 * 2**20
#: the halo of a window whose edges are all image edges: any kernel is exact there
UNBOUNDED = 2**62


@dataclasses.dataclass(frozen=True)
class DenseWindow:
    """Rows ``top:top+height`` and columns ``left:left+width`` of ``batch_size`` images of ``image``.

    ``halo``: how far the window extends past the outputs the caller keeps (kernels of radius up to
    ``halo`` are exact there); values beyond the image are zero.
    """

    batch_size: int
    image: tuple[int, int]
    top: int
    left: int
    height: int
    width: int
    halo: int = 0

    def __post_init__(self) -> None:
        rows, cols = self.image
        if self.top < 0 or self.left < 0 or self.top + self.height > rows or self.left + self.width > cols:
            bottom, right = self.top + self.height, self.left + self.width
            raise SparseInputError(
                f"window rows {self.top}:{bottom}, columns {self.left}:{right} outside the {rows}x{cols} grid"
            )
        if self.height < 1 or self.width < 1 or self.batch_size < 1 or self.halo < 0:
            raise SparseInputError(f"empty window {self}")

    @property
    def num_points(self) -> int:
        return self.batch_size * self.height * self.width

    @classmethod
    def whole(cls, batch_size: int, image: tuple[int, int]) -> DenseWindow:
        """Every pixel of the images (exact for any kernel: all window edges are image edges)."""
        return cls(batch_size, image, 0, 0, image[0], image[1], halo=UNBOUNDED)


def window_counts(start: int, length: int, size: int, radius: int) -> torch.Tensor:
    """Pixels of an axis of ``size`` under a window of ``radius`` at positions ``start..start+length``."""
    position = torch.arange(start, start + length, dtype=torch.int64)
    return (position + radius).clamp(max=size - 1) - (position - radius).clamp(min=0) + 1


def choose_method(height: int, width: int, kernel_size: int) -> Literal["direct", "fft"]:
    """``direct`` or ``fft`` for a ``height × width`` window, whichever needs fewer operations."""
    r = kernel_size // 2
    padded = (height + 2 * r) * (width + 2 * r)
    fft = FFT_COST * padded * math.log2(max(padded, 2))
    return "direct" if height * width * kernel_size**2 <= fft else "fft"


def _fft_correlate(
    x: torch.Tensor, weight: torch.Tensor, window: DenseWindow, chunk_bytes: int = FFT_CHUNK_BYTES
) -> torch.Tensor:
    """Zero-padded cross-correlation of ``x [B, C, h, w]`` with ``weight [C, k, k]`` by real FFTs.

    Overlap-save: the transform is longer than the window by ``r`` zeros for each of its sides that is an
    image edge (appended at the end: on a circle, where the zeros sit does not matter); across the other
    sides the circular wrap-around lands only in outputs within ``r`` of that side, which the window's
    halo marks as discarded (they are returned as zeros). Channels go through in groups whose planes take
    at most ``chunk_bytes``, so the transforms' extra memory stays a few times that.
    """
    b, c, h, w = x.shape
    r = weight.shape[-1] // 2
    rows, cols = window.image
    edges_y = (window.top == 0) + (window.top + h == rows)
    edges_x = (window.left == 0) + (window.left + w == cols)
    size = (h + r * edges_y, w + r * edges_x)
    # output (i, j) sits at (i + r, j + r) of the circular result; past its end lie discarded outputs
    keep_h, keep_w = min(h, size[0] - r), min(w, size[1] - r)
    compute = torch.float64 if x.dtype == torch.float64 else torch.float32
    plane = b * size[0] * size[1] * (8 if compute == torch.float64 else 4)
    group = max(1, chunk_bytes // plane)
    out = torch.zeros_like(x)
    for first in range(0, c, group):
        channels = slice(first, min(c, first + group))
        spectrum = torch.fft.rfft2(x[:, channels].to(compute), s=size)
        # correlation = convolution with the flipped kernel, whose origin sits at its last tap
        kernel = torch.fft.rfft2(weight[channels].to(compute).flip(-1, -2), s=size)
        full = torch.fft.irfft2(spectrum * kernel, s=size)
        out[:, channels, :keep_h, :keep_w] = full[..., r : r + keep_h, r : r + keep_w]
    return out


def dense_depthwise_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    normalise: bool = True,
    window: DenseWindow | None = None,
    method: Method = "auto",
) -> torch.Tensor:
    """The sparse depthwise convolution of every pixel of ``x [B, C, h, w]``, ``[B, C, h, w]`` out.

    ``weight`` is ``[C, k, k]`` (or ``[C, 1, k, k]``); ``window`` places ``x`` in a larger image (default:
    ``x`` is the whole image). Equals :func:`infd_sparse.conv.depthwise_conv` over the full neighbour map
    wherever the window holds the whole receptive field; differentiable in ``x``, ``weight`` and ``bias``.
    """
    if x.dim() != 4 or not x.dtype.is_floating_point:
        raise SparseInputError(f"x must be a float [B, C, h, w] tensor, got {x.dtype} {list(x.shape)}")
    b, c, h, w = x.shape
    if weight.dim() == 4 and weight.shape[1] == 1:
        weight = weight[:, 0]
    if weight.dim() != 3 or weight.shape[0] != c or weight.shape[1:] != (weight.shape[1],) * 2:
        raise SparseInputError(f"weight must be [{c}, k, k], got {list(weight.shape)}")
    if weight.shape[1] % 2 == 0:
        raise SparseInputError(f"weight must be [{c}, k, k] with k odd, got {list(weight.shape)}")
    window = window or DenseWindow.whole(b, (h, w))
    if (window.batch_size, window.height, window.width) != (b, h, w):
        raise SparseInputError(f"x of shape {list(x.shape)} does not fill the window {window}")
    k = weight.shape[-1]
    r = k // 2
    if r > window.halo:
        raise SparseInputError(f"kernel radius {r} exceeds the window's halo of {window.halo} pixels")
    chosen = choose_method(h, w, k) if method == "auto" else method
    weight = weight.to(device=x.device, dtype=x.dtype)
    if chosen == "direct":
        out = F.conv2d(x, weight[:, None], padding=r, groups=c)
    elif chosen == "fft":
        out = _fft_correlate(x, weight, window)
    else:
        raise SparseInputError(f"method must be 'auto', 'direct' or 'fft', got {method!r}")
    counts = None
    if normalise:
        rows = window_counts(window.top, h, window.image[0], r)
        cols = window_counts(window.left, w, window.image[1], r)
        counts = (rows[:, None] * cols[None, :]).to(device=x.device, dtype=x.dtype)
    if not torch.is_grad_enabled() or not out.requires_grad:  # in place: no second copy of a large window
        out = out.div_(counts) if counts is not None else out
        return out.add_(bias.to(out.dtype)[:, None, None]) if bias is not None else out
    out = out / counts if counts is not None else out
    return out + bias.to(out.dtype)[:, None, None] if bias is not None else out


def dense_depthwise_conv_points(
    values: torch.Tensor,
    window: DenseWindow,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    normalise: bool = True,
    method: Method = "auto",
) -> torch.Tensor:
    """:func:`dense_depthwise_conv` of ``values [N, C]`` holding the window's pixels in row-major order."""
    if values.dim() != 2 or values.shape[0] != window.num_points:
        raise SparseInputError(
            f"values must be [{window.num_points}, C] for the window's pixels, got {list(values.shape)}"
        )
    grid = values.view(window.batch_size, window.height, window.width, -1).permute(0, 3, 1, 2)
    out = dense_depthwise_conv(grid, weight, bias, normalise, window, method)
    return out.permute(0, 2, 3, 1).reshape(values.shape[0], -1)
