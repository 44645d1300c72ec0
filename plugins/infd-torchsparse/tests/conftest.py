from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

sys.path.insert(0, str(Path(__file__).parent))

FAKE = Path(__file__).parent / "fake_torchsparse"


def _forget_torchsparse() -> None:
    from infd_sparse.backends.select import _build
    from infd_torchsparse.plugin import torchsparse_works

    for name in [name for name in sys.modules if name == "torchsparse" or name.startswith("torchsparse.")]:
        del sys.modules[name]
    _build.cache_clear()
    torchsparse_works.cache_clear()


@pytest.fixture(params=["1.4.0", "2.1.0"])
def fake_torchsparse(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The stand-in torchsparse on sys.path, in the behaviour of an old and a new release."""
    _forget_torchsparse()
    monkeypatch.syspath_prepend(str(FAKE))
    import torchsparse

    monkeypatch.setattr(torchsparse, "__version__", request.param)
    yield request.param
    _forget_torchsparse()


@pytest.fixture
def no_torchsparse(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """torchsparse made unimportable, whether or not it is installed."""
    _forget_torchsparse()
    monkeypatch.setitem(sys.modules, "torchsparse", None)
    yield
    _forget_torchsparse()
