"""Draws from an explicit generator land on any device with the generator's numbers."""

from __future__ import annotations

import pytest
import torch

from infd_core import draws


def _generator(seed: int = 7, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def test_draws_equal_torch_on_the_generators_device():
    reference = torch.Generator().manual_seed(7)
    expected = torch.randn(3, 4, generator=reference, dtype=torch.float64)
    assert torch.equal(draws.randn((3, 4), _generator(), dtype=torch.float64), expected)
    assert torch.equal(draws.rand((5,), _generator()), torch.rand(5, generator=_generator()))
    ints = draws.randint(2, 9, (100,), _generator())
    assert ints.dtype == torch.int64
    assert torch.equal(ints, torch.randint(2, 9, (100,), generator=_generator()))
    assert int(ints.min()) >= 2 and int(ints.max()) <= 8


def test_default_device_is_the_cpu_and_no_generator_uses_the_global_one():
    assert draws.randn((2,), _generator()).device.type == "cpu"
    torch.manual_seed(3)
    first = draws.randn((4,), None, device="cpu")
    torch.manual_seed(3)
    assert torch.equal(first, torch.randn(4))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_generators_and_tensors_on_different_devices():
    on_gpu = draws.randn((1000,), _generator(), device="cuda")  # torch.randn itself refuses this
    assert on_gpu.device.type == "cuda" and torch.equal(on_gpu.cpu(), draws.randn((1000,), _generator()))
    from_gpu = draws.rand((10,), _generator(device="cuda"), device="cpu")
    expected = torch.rand(10, generator=_generator(device="cuda"), device="cuda").cpu()
    assert from_gpu.device.type == "cpu" and torch.equal(from_gpu, expected)


@pytest.mark.parametrize(
    ("shape", "rows"),
    [((3, 70, 90), 7), ((2, 3, 5, 5), 1), ((1, 16, 16), 3), ((3, 64, 48), 16), ((1, 3, 3), 1)],
)
def test_banded_draws_are_one_whole_draw(shape, rows):
    """Bands of rows (split at plane boundaries, tails of < 16 values merged) equal randn(shape)."""
    whole = torch.randn(shape, generator=torch.Generator().manual_seed(1)).reshape(-1, *shape[-2:])
    banded = torch.full_like(whole, float("nan"))
    for plane, top, band in draws.randn_rows(shape, torch.Generator().manual_seed(1), rows):
        assert band.shape[0] <= max(rows, 16)
        banded[plane, top : top + band.shape[0]] = band
    assert torch.equal(banded, whole)
