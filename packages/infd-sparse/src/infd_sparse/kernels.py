"""Resizing depthwise kernels for a change of resolution (∞-Diff §5).

A kernel of size k at the training resolution covers a fixed region of the continuous image; at
``scale`` × the resolution the same region spans ``(k − 1) · scale + 1`` pixels. The weights are
resampled bilinearly at the new tap positions (corner taps stay corner taps). Because the sparse
convolution normalises by the number of points in each window, no extra rescaling is needed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from infd_sparse.errors import SparseInputError


def resized_kernel_size(kernel_size: int, scale: float) -> int:
    """The odd kernel size covering the same region at ``scale`` × the resolution."""
    if scale <= 0:
        raise SparseInputError(f"scale must be positive, got {scale}")
    size = round((kernel_size - 1) * scale) + 1
    return size if size % 2 else size + 1


def resize_kernel(weight: torch.Tensor, scale: float) -> torch.Tensor:
    """Bilinearly resample ``[C, k, k]`` (or ``[C, 1, k, k]``) weights for ``scale`` × the resolution."""
    squeeze = weight.dim() == 3
    w = weight[:, None] if squeeze else weight
    if w.dim() != 4 or w.shape[1] != 1 or w.shape[2] != w.shape[3]:
        raise SparseInputError(f"weight must be [C, k, k] or [C, 1, k, k], got {list(weight.shape)}")
    size = resized_kernel_size(w.shape[-1], scale)
    if size == w.shape[-1]:
        return weight.clone()
    if w.shape[-1] == 1:
        resized = w.expand(-1, -1, size, size).clone()
    else:
        resized = F.interpolate(w, size=(size, size), mode="bilinear", align_corners=True)
    return resized[:, 0] if squeeze else resized
