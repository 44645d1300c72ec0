from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

FIXTURES = Path(__file__).parent / "fixtures"


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def installed_plugin(request) -> Iterator[str]:
    """pip-install a plugin from its folder (a fixture's name or a path; no network), uninstall it
    afterwards."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("installs packages: run inside a virtual environment (nox -s integration)")
    if os.environ.get("PYTEST_XDIST_WORKER") or request.node.get_closest_marker("installs") is None:
        pytest.fail(
            "a test installing a plugin must be marked installs and run alone, not on an xdist worker"
        )
    folder, dist = request.param
    _pip("install", "--quiet", "--no-index", "--no-deps", "--no-build-isolation", str(FIXTURES / folder))
    try:
        yield dist
    finally:
        _pip("uninstall", "--yes", "--quiet", dist)
