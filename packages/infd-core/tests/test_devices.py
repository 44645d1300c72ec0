from __future__ import annotations

import pytest
import torch

from infd_core.devices import resolve_device
from infd_core.errors import DeviceError


def test_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "CPU", ""])
def test_bad_names(bad):
    with pytest.raises(DeviceError, match="auto, cpu, cuda"):
        resolve_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_cuda():
    with pytest.raises(DeviceError, match="CUDA is not available"):
        resolve_device("cuda:0")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_index_out_of_range():
    with pytest.raises(DeviceError, match="only"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


@pytest.mark.parametrize(
    ("name", "local_rank", "expected"), [("auto", "1", 1), ("cuda", "3", 1), ("cuda:0", "1", 0)]
)
def test_ranks_on_one_node_take_their_own_gpu(monkeypatch, name, local_rank, expected):
    """Without an explicit local rank, torchrun's LOCAL_RANK picks the GPU (``infd render --nproc``)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("LOCAL_RANK", local_rank)
    assert resolve_device(name) == torch.device("cuda", expected)
    assert resolve_device(name, local_rank=0) == torch.device("cuda", 0)
