"""A real orthonormal Fourier basis built from the rfft2 degrees of freedom.

With the unitary DFT X = fft2(x, norm="ortho") of a real image, each frequency k either is its own
conjugate partner (k ≡ -k: the DC term and the Nyquist terms of even sizes), contributing one real
component Re X_k, or pairs with -k, contributing two: √2 Re X_k and √2 Im X_k (one representative per pair).
This gives exactly H·W real components and, by Parseval, an orthogonal U (U Uᵀ = I); the state stays real.
Components are sorted by |k| = sqrt(k_y² + k_x²) (signed frequencies in cycles per image), ties by the
rfft2 position, cosine part before sine part; component 0 is the DC term.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from infd_measures.bases.base import Basis


class FFTBasis(Basis):
    """Real orthonormal FFT basis of images of shape ``(H, W)``."""

    def __init__(self, shape: tuple[int, int]) -> None:
        super().__init__(shape)
        height, width = self.shape
        self._half = width // 2 + 1
        self_paired_cols = [0] + ([width // 2] if width % 2 == 0 and width > 1 else [])
        index, part, scale, freq2, magnitude = [], [], [], [], []
        for ky in range(height):
            for kx in range(self._half):
                if kx in self_paired_cols and ky > height // 2:
                    continue  # the conjugate partner (-ky) is the representative
                self_conjugate = kx in self_paired_cols and (ky == 0 or 2 * ky == height)
                signed_ky = ky if ky <= height // 2 else ky - height
                flat = ky * self._half + kx
                parts = [(0, 1.0)] if self_conjugate else [(0, math.sqrt(2.0)), (1, math.sqrt(2.0))]
                for p, s in parts:
                    index.append(flat)
                    part.append(p)
                    scale.append(s)
                    freq2.append(signed_ky**2 + kx**2)
                    magnitude.append(math.sqrt(signed_ky**2 + kx**2))
        order = sorted(range(len(index)), key=lambda i: (freq2[i], index[i], part[i]))
        self._gather = torch.tensor([2 * index[i] + part[i] for i in order])
        self._scale = torch.tensor([scale[i] for i in order], dtype=torch.float64)
        self._frequency = torch.tensor([magnitude[i] for i in order], dtype=torch.float64)
        self._mirror_cols = self_paired_cols
        assert self._gather.numel() == self.size, "rfft degrees of freedom must number H*W"

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        spectrum = torch.fft.rfft2(x, norm="ortho")
        flat = torch.view_as_real(spectrum).flatten(-3)  # (..., H * half * 2), re/im interleaved
        scale = self._scale.to(device=x.device, dtype=flat.dtype)
        return flat[..., self._gather.to(x.device)] * scale

    def _inverse(self, components: torch.Tensor) -> torch.Tensor:
        height, width = self.shape
        real_dtype = components.dtype
        flat = components.new_zeros(*components.shape[:-1], height * self._half * 2)
        scale = self._scale.to(device=components.device, dtype=real_dtype)
        flat[..., self._gather.to(components.device)] = components / scale
        spectrum = torch.view_as_complex(flat.unflatten(-1, (height, self._half, 2)).contiguous())
        rows = torch.arange(1, (height + 1) // 2, device=components.device)
        for col in self._mirror_cols:  # fill the conjugate partners of the self-paired columns
            spectrum[..., height - rows, col] = spectrum[..., rows, col].conj()
        return torch.fft.irfft2(spectrum, s=(height, width), norm="ortho")

    def frequency(self) -> torch.Tensor:
        """|k_i| in cycles per image (0 for the DC term)."""
        return self._frequency.clone()

    @classmethod
    def from_config(cls, config: Any) -> FFTBasis:
        """Build from :class:`~infd_measures.configs.FFTBasisConfig`."""
        return cls(tuple(config.shape))
