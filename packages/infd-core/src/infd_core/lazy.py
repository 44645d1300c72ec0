"""Lazy package exports (PEP 562), so that importing a plugin's package imports no torch or model code."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` that import ``name`` from ``exports[name]`` on
    first access (and cache it in the package)."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        _unshadow(package, exports)
        return value

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__


def _unshadow(package: str, exports: Mapping[str, str]) -> None:
    """Importing a submodule binds it on its package; an export of the same name must win over it."""
    namespace = vars(sys.modules[package])
    for name, source in exports.items():
        bound = namespace.get(name)
        if isinstance(bound, ModuleType) and bound.__name__ == f"{package}.{name}" and source in sys.modules:
            namespace[name] = getattr(sys.modules[source], name)
