"""Curves u_k sampled at their own 1-D points, input checks, and the min–max scaling of values."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from infd_funcdiff.errors import FuncDiffInputError


def check_points(
    coords: torch.Tensor, what: str = "coordinates", *, sorted_unique: bool = True
) -> torch.Tensor:
    """``coords`` as a float64 1-D tensor: finite and (when ``sorted_unique``) strictly increasing."""
    x = torch.as_tensor(coords, dtype=torch.float64).reshape(-1)
    if x.numel() < 1:
        raise FuncDiffInputError(f"{what}: need at least one point")
    if not bool(torch.isfinite(x).all()):
        raise FuncDiffInputError(f"{what}: contain NaN or inf")
    if sorted_unique and x.numel() > 1:
        steps = x[1:] - x[:-1]
        if bool((steps == 0).any()):
            raise FuncDiffInputError(f"{what}: duplicate coordinate {x[1:][steps == 0][0].item():g}")
        if bool((steps < 0).any()):
            raise FuncDiffInputError(f"{what}: must be sorted in increasing order")
    return x


def check_values(values: torch.Tensor, count: int, what: str = "values") -> torch.Tensor:
    """``values`` as a float64 1-D tensor of ``count`` finite numbers."""
    y = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    if y.numel() != count:
        raise FuncDiffInputError(f"{what}: {y.numel()} values for {count} points")
    if not bool(torch.isfinite(y).all()):
        raise FuncDiffInputError(f"{what}: contain NaN or inf")
    return y


def grid_points(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``n`` evenly spaced points on [0, 1] including both ends."""
    if n < 2:
        raise FuncDiffInputError(f"a grid needs at least 2 points, got {n}")
    return torch.linspace(0.0, 1.0, n, dtype=dtype)


def random_points(n: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``n`` sorted uniform points on [0, 1] (redrawn until distinct)."""
    while True:
        x = torch.rand(n, generator=generator, dtype=dtype).sort().values
        if n < 2 or bool((x[1:] > x[:-1]).all()):
            return x


@dataclass
class Curves:
    """Curves with their own points: ``coords[k]`` and ``values[k]`` are float64 ``(M_k,)`` tensors."""

    coords: list[torch.Tensor]
    values: list[torch.Tensor]

    def __post_init__(self) -> None:
        if not self.coords or len(self.coords) != len(self.values):
            raise FuncDiffInputError("curves need as many coordinate as value arrays, and at least one")
        for k, (x, y) in enumerate(zip(self.coords, self.values, strict=True)):
            self.coords[k] = check_points(x, f"curve {k} coordinates")
            self.values[k] = check_values(y, self.coords[k].numel(), f"curve {k} values")
            if self.coords[k].numel() < 2:
                raise FuncDiffInputError(f"curve {k}: needs at least 2 points")

    def __len__(self) -> int:
        return len(self.coords)

    @property
    def shared_points(self) -> torch.Tensor | None:
        """The points, when every curve has the same ones (else None)."""
        first = self.coords[0]
        if all(x.shape == first.shape and bool(torch.equal(x, first)) for x in self.coords):
            return first
        return None

    @property
    def is_regular_grid(self) -> bool:
        x = self.shared_points
        if x is None or x.numel() < 2:
            return False
        steps = x[1:] - x[:-1]
        return bool(torch.allclose(steps, steps.mean().expand_as(steps), rtol=1e-6, atol=1e-12))

    def on_points(self, points: torch.Tensor) -> torch.Tensor:
        """All curves linearly interpolated at ``points`` (float64 ``(K, P)``, constant outside)."""
        import numpy as np

        p = points.numpy()
        rows = [np.interp(p, x.numpy(), y.numpy()) for x, y in zip(self.coords, self.values, strict=True)]
        return torch.tensor(np.stack(rows))

    def map_values(self, fn) -> Curves:  # type: ignore[no-untyped-def]
        return Curves(list(self.coords), [fn(y) for y in self.values])


@dataclass(frozen=True)
class MinMaxScaling:
    """Affine map of values from [data_min, data_max] to [low, high]; stored in checkpoints."""

    data_min: float
    data_max: float
    low: float = -3.0
    high: float = 3.0

    @classmethod
    def fit(cls, curves: Curves, low: float = -3.0, high: float = 3.0) -> MinMaxScaling:
        lo = min(float(y.min()) for y in curves.values)
        hi = max(float(y.max()) for y in curves.values)
        if not hi > lo:
            raise FuncDiffInputError("all curve values are equal: min–max scaling is undefined")
        return cls(lo, hi, low, high)

    @property
    def factor(self) -> float:
        return (self.high - self.low) / (self.data_max - self.data_min)

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return (values - self.data_min) * self.factor + self.low

    def inverse(self, values: torch.Tensor) -> torch.Tensor:
        return (values - self.low) / self.factor + self.data_min

    def to_dict(self) -> dict[str, float]:
        return {"data_min": self.data_min, "data_max": self.data_max, "low": self.low, "high": self.high}


__all__ = ["Curves", "MinMaxScaling", "check_points", "check_values", "grid_points", "random_points"]
