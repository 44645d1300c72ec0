"""The multi-level orthonormal 2-D Haar basis of GUD App. D.

One level n (1..N) maps X⁽ⁿ⁻¹⁾ to four sub-bands: first along rows (the first index),
L_ik = (X_2i,k + X_2i+1,k)/√2 and H_ik = (X_2i,k - X_2i+1,k)/√2, then along columns (the second index),
LL = (L_i,2j + L_i,2j+1)/√2, LH = (L_i,2j - L_i,2j+1)/√2, HL and HH likewise from H (eq. 26);
X⁽ⁿ⁾ = LL⁽ⁿ⁾ is decomposed further. Components are ordered coarse to fine:
``[LL(N), LH(N), HL(N), HH(N), LH(N-1), ..., HH(1)]``, each sub-band flattened row-major.

For the §5.3 schedule, *level* 0 is the coarsest group (LL(N) with HF(N)) and level N-1 the finest
(HF(1)); the column of a coefficient is its column j within its sub-band, out of W/2ⁿ.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from infd_measures.bases.base import Basis
from infd_measures.errors import ParameterError

_SQRT_HALF = 1.0 / math.sqrt(2.0)


class HaarBasis(Basis):
    """Orthonormal Haar wavelets with ``levels`` decomposition levels on ``(H, W)`` images."""

    def __init__(self, shape: tuple[int, int], levels: int = 3) -> None:
        super().__init__(shape)
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
            raise ParameterError(f"levels must be a positive int, got {levels!r}")
        factor = 2**levels
        if self.shape[0] % factor or self.shape[1] % factor:
            raise ParameterError(
                f"a {levels}-level Haar basis needs H and W divisible by {factor}, got {self.shape}"
            )
        self.levels = levels
        level_ids, columns, num_columns, frequency = [], [], [], []
        height, width = self.shape
        for n in range(levels, 0, -1):  # coarse to fine
            h, w = height >> n, width >> n
            bands = 4 if n == levels else 3
            cols = torch.arange(w).repeat(h)
            for _ in range(bands):
                level_ids.append(torch.full((h * w,), levels - n))
                columns.append(cols)
                num_columns.append(torch.full((h * w,), w))
                frequency.append(
                    torch.full((h * w,), min(height, width) / 2 ** (n + 0.5), dtype=torch.float64)
                )
        self._levels = torch.cat(level_ids)
        self._columns = torch.cat(columns)
        self._num_columns = torch.cat(num_columns)
        self._frequency = torch.cat(frequency)
        self._frequency[: (height >> levels) * (width >> levels)] = 0.0  # LL(N): the coarse averages

    @staticmethod
    def _split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        low = (x[..., 0::2, :] + x[..., 1::2, :]) * _SQRT_HALF
        high = (x[..., 0::2, :] - x[..., 1::2, :]) * _SQRT_HALF
        ll = (low[..., 0::2] + low[..., 1::2]) * _SQRT_HALF
        lh = (low[..., 0::2] - low[..., 1::2]) * _SQRT_HALF
        hl = (high[..., 0::2] + high[..., 1::2]) * _SQRT_HALF
        hh = (high[..., 0::2] - high[..., 1::2]) * _SQRT_HALF
        return ll, lh, hl, hh

    @staticmethod
    def _merge(ll: torch.Tensor, lh: torch.Tensor, hl: torch.Tensor, hh: torch.Tensor) -> torch.Tensor:
        low = torch.stack([ll + lh, ll - lh], dim=-1).flatten(-2) * _SQRT_HALF
        high = torch.stack([hl + hh, hl - hh], dim=-1).flatten(-2) * _SQRT_HALF
        return torch.stack([low + high, low - high], dim=-2).flatten(-3, -2) * _SQRT_HALF

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        details: list[torch.Tensor] = []
        current = x
        for _ in range(self.levels):
            current, lh, hl, hh = self._split(current)
            details = [lh.flatten(-2), hl.flatten(-2), hh.flatten(-2), *details]
        return torch.cat([current.flatten(-2), *details], dim=-1)

    def _inverse(self, components: torch.Tensor) -> torch.Tensor:
        height, width = self.shape
        h, w = height >> self.levels, width >> self.levels
        current = components[..., : h * w].unflatten(-1, (h, w))
        offset = h * w
        for _ in range(self.levels):
            bands = []
            for _ in range(3):
                bands.append(components[..., offset : offset + h * w].unflatten(-1, (h, w)))
                offset += h * w
            current = self._merge(current, *bands)
            h, w = 2 * h, 2 * w
        return current

    def levels_of_components(self) -> tuple[torch.Tensor, int]:
        """Level of each component (0 = coarsest: LL(N) and HF(N); N-1 = HF(1)) and N."""
        return self._levels.clone(), self.levels

    def columns(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Column j within the sub-band and the sub-band's width W/2ⁿ."""
        return self._columns.clone(), self._num_columns.clone()

    def frequency(self) -> torch.Tensor:
        """Nominal frequency min(H, W)/2^(n + 1/2) of level-n details; 0 for LL(N)."""
        return self._frequency.clone()

    @classmethod
    def from_config(cls, config: Any) -> HaarBasis:
        """Build from :class:`~infd_measures.configs.HaarBasisConfig`."""
        return cls(tuple(config.shape), levels=config.levels)

    def __repr__(self) -> str:
        return f"HaarBasis(shape={self.shape}, levels={self.levels})"
