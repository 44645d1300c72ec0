"""2× downsampling of (c, y, x) blocks: the mean of each 2×2 cell.

uint8 means are rounded half up (``(a + b + c + d + 2) // 4``); float32 means are summed in a fixed
order, so a block gives the same bytes whichever process downsamples it. An odd last row or column
is averaged with a copy of itself. Blocks that start on even pixels give the same result as
downsampling the whole image, which is what makes tile-by-tile pyramids exact.
"""

from __future__ import annotations

import numpy as np


def _pad_to_even(block: np.ndarray) -> np.ndarray:
    pad_y = block.shape[-2] % 2
    pad_x = block.shape[-1] % 2
    if pad_y or pad_x:
        block = np.pad(block, ((0, 0), (0, pad_y), (0, pad_x)), mode="edge")
    return block


def downsample_2x(block: np.ndarray) -> np.ndarray:
    """(c, h, w) -> (c, ceil(h / 2), ceil(w / 2)) for uint8 or float32 blocks."""
    if block.ndim != 3:
        raise ValueError(f"expected a (c, y, x) block, got shape {block.shape}")
    block = _pad_to_even(block)
    top_left, top_right = block[:, 0::2, 0::2], block[:, 0::2, 1::2]
    bottom_left, bottom_right = block[:, 1::2, 0::2], block[:, 1::2, 1::2]
    if block.dtype == np.uint8:
        total = np.add(top_left, top_right, dtype=np.uint16)
        total += bottom_left
        total += bottom_right
        total += 2
        total >>= 2
        return total.astype(np.uint8)
    if block.dtype == np.float32:
        top = top_left + top_right
        top += bottom_left + bottom_right
        top *= np.float32(0.25)
        return top
    raise ValueError(f"downsampling supports uint8 and float32, not {block.dtype}")


def downsample_by(block: np.ndarray, times: int) -> np.ndarray:
    """``times`` successive 2× downsamplings (the same as ``times`` pyramid levels)."""
    for _ in range(times):
        block = downsample_2x(block)
    return block
