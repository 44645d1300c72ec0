"""The component registry: (kind, name) -> spec, filled from the plugins' hooks.

A :class:`ComponentSpec` is lightweight: the config model and the factory may be given as
``"module:attribute"`` strings so that listing components imports no model code.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from infd_core.errors import DuplicateComponentError, PluginError, UnknownComponentError

#: Component kinds, one hookspec each (``infd_<kind>``).
COMPONENT_KINDS: tuple[str, ...] = (
    "schedules",
    "measures",
    "bases",
    "sparse_backends",
    "renderers",
    "samplers",
    "models",
    "pipelines",
    "datasets",
    "writers",
    "metrics",
)


def import_object(path: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute."""
    module_name, sep, attr_path = path.partition(":")
    if not sep or not module_name or not attr_path:
        raise PluginError(f"import path {path!r} must look like 'package.module:attribute'")
    try:
        obj: Any = importlib.import_module(module_name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a plugin module that fails (or calls sys.exit) while imported
        raise PluginError(f"cannot import {module_name} (for {path}): {type(exc).__name__}: {exc}") from None
    for part in attr_path.split("."):
        obj = getattr(obj, part)
    return obj


@dataclasses.dataclass(frozen=True)
class ComponentSpec:
    """What a plugin registers for one component.

    ``factory`` builds the component from its validated config (``factory(config)``);
    ``config`` is its pydantic model. Either may be an import path string, resolved lazily.
    ``kind``, ``plugin`` and ``distribution`` are filled in by the registry.
    """

    name: str
    factory: str | Callable[..., Any]
    config: str | type[BaseModel]
    description: str = ""
    #: For pipelines: import path of a zero-argument callable returning the demo's run config.
    demo: str | None = None
    kind: str = ""
    plugin: str = ""
    distribution: str = ""

    def config_model(self) -> type[BaseModel]:
        """The config model class (imported on first use)."""
        model = import_object(self.config) if isinstance(self.config, str) else self.config
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise PluginError(
                f"{self.kind} {self.name!r} ({self.distribution}): config is not a pydantic model"
            )
        return model

    def load_factory(self) -> Callable[..., Any]:
        """The factory callable (imported on first use)."""
        return import_object(self.factory) if isinstance(self.factory, str) else self.factory

    def build(self, config: BaseModel | Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """Validate ``config`` with the config model and call the factory with it."""
        model = self.config_model()
        if not isinstance(config, model):
            config = model.model_validate(dict(config or {}))
        return self.load_factory()(config, **kwargs)


class Registry:
    """All registered components, by kind then name.

    A name that two plugins register is a conflict: neither spec is used (other components of both
    plugins still are), and asking for the name raises a DuplicateComponentError naming both owners.
    """

    def __init__(self) -> None:
        self._specs: dict[str, dict[str, ComponentSpec]] = {kind: {} for kind in COMPONENT_KINDS}
        self._conflicts: dict[tuple[str, str], list[ComponentSpec]] = {}

    def add(self, kind: str, spec: ComponentSpec) -> None:
        """Register ``spec`` under ``kind``; a repeated name disables every spec of that name."""
        if kind not in self._specs:
            raise PluginError(f"unknown component kind {kind!r}; kinds: {', '.join(COMPONENT_KINDS)}")
        if not isinstance(spec, ComponentSpec):
            raise PluginError(f"a plugin returned {spec!r} for {kind}, not a ComponentSpec")
        key = (kind, spec.name)
        if key in self._conflicts:
            self._conflicts[key].append(spec)
        elif spec.name in self._specs[kind]:
            self._conflicts[key] = [self._specs[kind].pop(spec.name), spec]
        else:
            self._specs[kind][spec.name] = spec

    def conflicts(self) -> dict[tuple[str, str], list[ComponentSpec]]:
        """Each (kind, name) registered more than once, with every spec that claimed it."""
        return dict(self._conflicts)

    def conflict_message(self, kind: str, name: str) -> str:
        """Why ``name`` cannot be used: which distributions register it."""
        owners = " and by ".join(spec.distribution or spec.plugin for spec in self._conflicts[(kind, name)])
        return (
            f"{kind} {name!r} is registered twice: by {owners}; it is disabled until you uninstall one "
            "or disable it with INFD_DISABLE_PLUGINS"
        )

    def get(self, kind: str, name: str) -> ComponentSpec:
        """The spec of ``name``; an unknown name lists the available ones."""
        if kind not in self._specs:
            raise UnknownComponentError(
                f"unknown component kind {kind!r}; kinds: {', '.join(COMPONENT_KINDS)}"
            )
        if (kind, name) in self._conflicts:
            raise DuplicateComponentError(self.conflict_message(kind, name))
        try:
            return self._specs[kind][name]
        except KeyError:
            available = sorted(self._specs[kind])
            hint = difflib.get_close_matches(name, available, n=1)
            message = f"unknown {kind[:-1] if kind.endswith('s') else kind} {name!r}; available: "
            message += ", ".join(available) if available else "(none registered)"
            if hint:
                message += f" (did you mean {hint[0]!r}?)"
            raise UnknownComponentError(message) from None

    def find(self, name: str) -> list[ComponentSpec]:
        """Every spec called ``name``, whatever its kind."""
        return [specs[name] for specs in self._specs.values() if name in specs]

    def names(self, kind: str) -> list[str]:
        """Sorted names registered under ``kind``."""
        return sorted(self._specs[kind])

    def specs(self, kind: str | None = None) -> Iterable[ComponentSpec]:
        """All specs, or those of one kind."""
        kinds = COMPONENT_KINDS if kind is None else (kind,)
        for k in kinds:
            yield from (self._specs[k][n] for n in sorted(self._specs[k]))

    def __contains__(self, key: tuple[str, str]) -> bool:
        kind, name = key
        return name in self._specs.get(kind, {})
