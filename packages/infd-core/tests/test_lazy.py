"""Lazy package exports: values are imported on first access and win over same-named submodules."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def lazy_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    root = tmp_path / "lazy_pkg_under_test"
    root.mkdir()
    (root / "__init__.py").write_text(
        textwrap.dedent(
            """
            from infd_core.lazy import lazy_exports

            _EXPORTS = {"report": "lazy_pkg_under_test.report", "read": "lazy_pkg_under_test.report"}
            __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
            """
        )
    )
    (root / "report.py").write_text("def report():\n    return 'report'\n\ndef read():\n    return 'read'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "lazy_pkg_under_test"
    for name in [n for n in sys.modules if n.startswith("lazy_pkg_under_test")]:
        del sys.modules[name]


def test_submodule_import_does_not_shadow_an_export_of_the_same_name(lazy_package: str) -> None:
    package = importlib.import_module(lazy_package)
    assert "lazy_pkg_under_test.report" not in sys.modules
    assert package.read() == "read"  # imports the submodule, which Python binds as package.report
    assert callable(package.report) and package.report() == "report"
    assert sorted(dir(package)) == ["read", "report"]


def test_unknown_attribute_is_an_attribute_error(lazy_package: str) -> None:
    package = importlib.import_module(lazy_package)
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        package.missing  # noqa: B018


def test_config_models_import_without_torch() -> None:
    """Plugins build their configs on infd_core.config, so validating one must not import torch."""
    import subprocess

    code = "import sys, infd_core, infd_core.config, infd_core.plugins; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
