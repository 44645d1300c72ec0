"""Against a real torchsparse build, where one is installed (it is not on PyPI, so CI skips this)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from sparse_helpers import ragged

from infd_sparse import build_neighbours

torchsparse = pytest.importorskip(
    "torchsparse", reason="torchsparse is not installed (not on PyPI: build it from source to run this test)"
)
if Path(torchsparse.__file__).parent.parent.name == "fake_torchsparse":
    pytest.skip("only the test stand-in is importable, not a real torchsparse", allow_module_level=True)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_real_hash_maps_equal_sorted_key_maps(device: str) -> None:
    points = ragged(4, (64, 48), seed=0).to(device)
    try:
        hashed = build_neighbours(points, kernel_size=7, backend="torchsparse")
    except RuntimeError as error:  # some builds hash on one device only
        pytest.skip(f"torchsparse {torchsparse.__version__} cannot hash on {device}: {error}")
    exact = build_neighbours(points, kernel_size=7, backend="sorted")
    assert torch.equal(hashed.indices, exact.indices)
