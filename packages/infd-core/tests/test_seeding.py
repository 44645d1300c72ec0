"""Derived generators depend on (seed, index) only."""

from __future__ import annotations

import random

import pytest
import torch

from infd_core.seeding import derive_generator, derive_seed, tile_generator


def test_same_identity_same_numbers_different_identity_different_numbers():
    a = torch.randn(8, generator=derive_generator(1, "tile", 3, 4))
    b = torch.randn(8, generator=derive_generator(1, "tile", 3, 4))
    c = torch.randn(8, generator=derive_generator(1, "tile", 4, 3))
    d = torch.randn(8, generator=derive_generator(2, "tile", 3, 4))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c) and not torch.allclose(a, d)


def test_int_and_str_indices_do_not_collide():
    assert derive_seed(0, 1) != derive_seed(0, "1")
    assert 0 <= derive_seed(123, "x") < 2**63


def test_tile_outputs_do_not_depend_on_order():
    tiles = [(i, j) for i in range(3) for j in range(3)]
    in_order = {t: torch.rand(4, generator=tile_generator(7, t)) for t in tiles}
    shuffled = tiles[:]
    random.Random(0).shuffle(shuffled)
    for t in shuffled:
        assert torch.equal(torch.rand(4, generator=tile_generator(7, t)), in_order[t])


@pytest.mark.parametrize("bad", [1.5, "3", True])
def test_bad_seed(bad):
    with pytest.raises(TypeError):
        derive_seed(bad)


def test_seeded_global_rng_is_deterministic_and_restores_the_global_state():
    from infd_core.seeding import seeded_global_rng

    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with seeded_global_rng(5, "init"):
        a = torch.nn.Linear(4, 2).weight.detach().clone()
    with seeded_global_rng(5, "init"):
        b = torch.nn.Linear(4, 2).weight.detach().clone()
    with seeded_global_rng(5, "other"):
        c = torch.nn.Linear(4, 2).weight.detach().clone()
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.rand(3), expected_next)  # the global generator was left where it was
