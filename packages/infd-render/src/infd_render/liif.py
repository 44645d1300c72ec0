"""LIIF (Chen et al. 2021): a pointwise MLP on the nearest feature, relative coordinate and cell.

With the local ensemble, the four features around a query point are decoded and blended with the
areas of the opposite rectangles. Every point is independent (receptive field 0), and the MLP runs in
calls of a fixed number of points, so tiles equal a whole-image render exactly.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from infd_render.configs import LIIFConfig
from infd_render.layers import Borders, fixed_rows
from infd_render.query import gather_query


class LIIFRenderer(nn.Module):
    """``render(features, coords, cells) -> (B, out, *S)`` for coordinates ``(B, *S, 2)``."""

    def __init__(self, config: LIIFConfig | None = None) -> None:
        super().__init__()
        self.config = config or LIIFConfig()
        c = self.config.feature_channels * (9 if self.config.feature_unfold else 1)
        widths = [c + 2 + (2 if self.config.cell_decode else 0), *self.config.hidden_channels]
        layers: list[nn.Module] = []
        for w_in, w_out in itertools.pairwise(widths):
            layers += [nn.Linear(w_in, w_out), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], self.config.out_channels))
        self.mlp = nn.Sequential(*layers)

    @classmethod
    def from_config(cls, config: LIIFConfig) -> LIIFRenderer:
        return cls(config)

    @property
    def receptive_field(self) -> int:
        """Pointwise: each output pixel depends on its own query only."""
        return 0

    def prepare_features(self, features: torch.Tensor) -> torch.Tensor:
        """Feature unfolding (3x3 neighbourhood per feature), done once per image."""
        if not self.config.feature_unfold:
            return features
        batch, c, h, w = features.shape
        return F.unfold(features, 3, padding=1).reshape(batch, c * 9, h, w)

    def _decode(self, query: torch.Tensor) -> torch.Tensor:
        rows = query.reshape(-1, query.shape[-1]).to(self.mlp[0].weight.dtype)
        # each Linear as addmm(bias, rows, Wᵀ) with Wᵀ contiguous: with F.linear's transposed weight,
        # MKL's AVX2 kernels round a row differently by its position in the call (tiles ≠ whole image)
        steps = [(m.bias, m.weight.t().contiguous()) if isinstance(m, nn.Linear) else m for m in self.mlp]

        def mlp(block: torch.Tensor) -> torch.Tensor:
            for step in steps:
                if isinstance(step, tuple):
                    bias, matrix = step
                    block = block @ matrix if bias is None else torch.addmm(bias, block, matrix)
                else:
                    block = step(block)
            return block

        return fixed_rows(mlp, rows, self.config.chunk_size).reshape(*query.shape[:-1], -1)

    def render_prepared(
        self, features: torch.Tensor, coords: torch.Tensor, cells: torch.Tensor
    ) -> torch.Tensor:
        cells_in = cells if self.config.cell_decode else None
        if not self.config.local_ensemble:
            out = self._decode(gather_query(features, coords, cells_in))
        else:
            fh, fw = features.shape[-2:]
            ry, rx, eps = 1 / fh, 1 / fw, 1e-6
            preds, areas = [], []
            for vy in (-1, 1):
                for vx in (-1, 1):
                    query = gather_query(features, coords, cells_in, (vy * ry + eps, vx * rx + eps))
                    c = features.shape[1]
                    rel = query[..., c : c + 2]
                    preds.append(self._decode(query))
                    areas.append((rel[..., 0] * rel[..., 1]).abs() + 1e-9)
            total = areas[0] + areas[1] + areas[2] + areas[3]
            # each prediction is weighted by the area of the rectangle diagonally opposite
            out = sum(p * (a / total).unsqueeze(-1) for p, a in zip(preds, areas[::-1], strict=True))
        assert isinstance(out, torch.Tensor)
        return out.movedim(-1, 1)

    def render_window(
        self, features: torch.Tensor, coords: torch.Tensor, cells: torch.Tensor, borders: Borders
    ) -> torch.Tensor:
        return self.render_prepared(features, coords, cells)

    def render(self, features: torch.Tensor, coords: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        return self.render_prepared(self.prepare_features(features), coords, cells)

    forward = render
