from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from toy_pipeline import ToyPlugin

from infd_core.plugins import InfdPluginManager


@pytest.fixture
def manager() -> InfdPluginManager:
    """A plugin manager without entry points, with the toy pipeline registered."""
    pm = InfdPluginManager(load_entry_points=False)
    pm.register(ToyPlugin(), name="toy", distribution="infd-toy")
    return pm


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """Make an installed-looking distribution (dist-info + module) with an ``infd`` entry point."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    made: list[str] = []

    def make(dist: str, module: str, source: str, entry_name: str | None = None) -> Path:
        (root / f"{module}.py").write_text(textwrap.dedent(source))
        info = root / f"{dist.replace('-', '_')}-0.3.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.0\n")
        (info / "entry_points.txt").write_text(f"[infd]\n{entry_name or module} = {module}\n")
        made.append(module)
        return root

    yield make
    for module in made:
        sys.modules.pop(module, None)
