"""The graph neural operator on irregular points: trains on per-curve random points, samples anywhere."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from funcdiff_helpers import make_pipeline

from infd_funcdiff.gno import GraphNeuralOperator


@pytest.mark.parametrize("kernel", ["diagonal", "matrix"])
def test_gno_is_resolution_independent_in_shape_and_scale(kernel: str):
    model = GraphNeuralOperator(8, 2, 0.1, 16, 16, kernel=kernel)
    for points in (20, 80):
        x = torch.rand(points).sort().values[:, None]
        out = model(torch.sin(6 * x).expand(2, points, 1), torch.tensor([0.5, 0.1]), coords=x)
        assert out.shape == (2, points, 1) and torch.isfinite(out).all()


def test_gno_pipeline_on_irregular_points(tmp_path):
    config = {
        "data": {"kind": "mogp", "mogp": {"num_curves": 40, "num_points": 24, "irregular": True}},
        "noise": {"kernel": "matern32"},
        "loss": "sobolev",
        "model": {
            "kind": "gno",
            "gno": {"kernel": "matrix", "width": 8, "layers": 2, "kernel_width": 16, "projection": 16},
        },
        "train": {"steps": 5, "batch_size": 8},
        "sampling": {"steps": 5, "irregular": True, "num_points": 50},
    }
    pipeline = make_pipeline(config, str(tmp_path))
    pipeline.train()
    paths = pipeline.sample(str(tmp_path / "samples"))
    samples = np.load(paths[0])
    assert samples["values"].shape == (1, 50) and np.isfinite(samples["values"]).all()
    assert (np.diff(samples["coords"]) > 0).all()
