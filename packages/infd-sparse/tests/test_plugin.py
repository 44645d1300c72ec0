"""Registration through the infd hooks, and the automatic backend choice."""

from __future__ import annotations

import subprocess
import sys

import torch

from infd_core.plugins import InfdPluginManager
from infd_sparse import CoordinateBatch, SparseConvConfig, SparseDepthwiseConv, build_neighbours
from infd_sparse.backends.select import choose_backend_name


def test_backends_are_registered():
    registry = InfdPluginManager().registry()
    assert {"torch", "triton"} <= set(registry.names("sparse_backends"))
    assert registry.get("sparse_backends", "torch").distribution == "infd-sparse"


def test_auto_choice_on_cpu_is_torch():
    assert choose_backend_name(torch.device("cpu"), torch.float32) == "torch"


def test_listing_imports_no_kernel_module():
    code = (
        "import sys; from infd_core.plugins import InfdPluginManager; InfdPluginManager().registry(); "
        "print([m for m in sys.modules if m.startswith(('infd_sparse.backends.', 'triton'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_layer_runs_and_resizes_its_kernel():
    layer = SparseDepthwiseConv(SparseConvConfig(channels=4, kernel_size=3))
    points = CoordinateBatch.random(2, (8, 8), 2, generator=torch.Generator().manual_seed(0))
    out = layer(torch.randn(points.num_points, 4), build_neighbours(points, kernel_size=3))
    assert out.shape == (points.num_points, 4)
    big = CoordinateBatch.random(2, (16, 16), 2, generator=torch.Generator().manual_seed(1))
    out2 = layer(torch.randn(big.num_points, 4), build_neighbours(big, kernel_size=5), scale=2.0)
    assert out2.shape == (big.num_points, 4)
    out2.sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
