"""Every hookspec is typed, prefixed, documented in code and in the README."""

from __future__ import annotations

import inspect
from pathlib import Path

from infd_core import hookspecs
from infd_core.registry import COMPONENT_KINDS

README = Path(__file__).resolve().parents[1] / "README.md"


def _specs():
    return {name: fn for name, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, "infd_spec")}


def test_one_hookspec_per_component_kind_plus_events_and_cli():
    names = set(_specs())
    assert {f"infd_{kind}" for kind in COMPONENT_KINDS} <= names
    assert {"infd_cli_commands", "infd_on_train_step", "infd_on_tile_written"} <= names
    assert all(name.startswith("infd_") for name in names)


def test_every_hookspec_has_docstring_and_annotations():
    for name, fn in _specs().items():
        assert inspect.getdoc(fn), f"{name} has no docstring"
        assert "return" in fn.__annotations__, f"{name} has no return annotation"


def test_every_hookspec_is_documented_in_the_readme():
    text = README.read_text()
    missing = [name for name in _specs() if f"`{name}" not in text]
    assert not missing, f"hooks missing from {README}: {missing}"
