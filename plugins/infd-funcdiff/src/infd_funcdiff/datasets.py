"""Curve datasets: two-GP mixture (MoGP), one zero-mean GP, random lines, user NPZ/CSV files (infd-io)."""

from __future__ import annotations

from typing import Any

import torch

from infd_core.seeding import derive_generator
from infd_funcdiff.curves import Curves, grid_points, random_points
from infd_measures import GaussianProcess, StationaryKernel


def _points(num_curves: int, num_points: int, irregular: bool, seed: int) -> list[torch.Tensor]:
    if not irregular:
        return [grid_points(num_points)] * num_curves
    return [random_points(num_points, derive_generator(seed, "points", k)) for k in range(num_curves)]


def mogp_curves(config: Any) -> Curves:
    """MoGP: half the curves from GP(slope·x + offset, k), half from GP(−slope·x − offset, k), k RBF."""
    gp = GaussianProcess(StationaryKernel("rbf", config.variance, config.length_scale), jitter=1e-8)
    points = _points(config.num_curves, config.num_points, config.irregular, config.seed)
    values = []
    for k, x in enumerate(points):
        sign = 1.0 if k % 2 == 0 else -1.0
        draw = gp.sample(x[:, None], derive_generator(config.seed, "mogp", k))[:, 0]
        values.append(sign * (config.slope * x + config.offset) + draw)
    return Curves(list(points), values)


def gp_curves(config: Any) -> Curves:
    """Draws of one zero-mean GP(0, k) with the configured stationary kernel."""
    name = "matern12" if config.kernel == "exponential" else config.kernel
    gp = GaussianProcess(StationaryKernel(name, config.variance, config.length_scale), jitter=1e-8)
    points = _points(config.num_curves, config.num_points, config.irregular, config.seed)
    values = [
        gp.sample(x[:, None], derive_generator(config.seed, "gp", k))[:, 0] for k, x in enumerate(points)
    ]
    return Curves(list(points), values)


def linear_curves(config: Any) -> Curves:
    """Lines a·x + b with Gaussian slope and bias."""
    points = _points(config.num_curves, config.num_points, config.irregular, config.seed)
    values = []
    for k, x in enumerate(points):
        ab = torch.randn(2, generator=derive_generator(config.seed, "linear", k), dtype=torch.float64)
        slope = config.slope_mean + config.slope_std * ab[0]
        bias = config.bias_mean + config.bias_std * ab[1]
        values.append(slope * x + bias)
    return Curves(list(points), values)


def file_curves(config: Any) -> Curves:
    """Curves from an NPZ/CSV file through :class:`infd_io.functions.FunctionDataset` (checked here)."""
    from infd_io.functions import FunctionDataset

    dataset = FunctionDataset(config.path, config.x_key, list(config.y_keys), config.curve_column)
    items = [dataset[k] for k in range(len(dataset))]
    return Curves([item["coords"][:, 0] for item in items], [item["values"][:, 0] for item in items])


def build_curves(data: Any) -> Curves:
    """The training curves a :class:`~infd_funcdiff.config.DataConfig` describes."""
    if data.kind == "mogp":
        return mogp_curves(data.mogp)
    if data.kind == "gp":
        return gp_curves(data.gp)
    if data.kind == "linear":
        return linear_curves(data.linear)
    return file_curves(data.file)


__all__ = ["build_curves", "file_curves", "gp_curves", "linear_curves", "mogp_curves"]
