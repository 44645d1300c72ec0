"""Loading plugins from the ``infd`` entry-point group and building the registry from them."""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
from functools import lru_cache
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from infd_core import hookspecs
from infd_core.errors import PluginError
from infd_core.registry import COMPONENT_KINDS, ComponentSpec, Registry

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "infd"
DISABLE_ENV = "INFD_DISABLE_PLUGINS"
#: The core's own plugins, registered before the entry points (name -> module).
CORE_PLUGINS = {"infd_core": "infd_core.defaults"}


@dataclasses.dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be used, with the reason."""

    name: str
    distribution: str
    error: str


@dataclasses.dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin: where it comes from and which hooks it implements."""

    name: str
    module: str
    distribution: str
    version: str
    hooks: tuple[str, ...]


def disabled_plugins() -> set[str]:
    """Plugin names listed in ``INFD_DISABLE_PLUGINS`` (comma separated)."""
    raw = os.environ.get(DISABLE_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


class InfdPluginManager:
    """A pluggy manager for project ``infd`` that isolates broken plugins."""

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self._infos: dict[str, PluginInfo] = {}
        self._registry: Registry | None = None
        disabled = disabled_plugins()
        core_dist = _distribution_of("infd_core")
        for name, module_name in CORE_PLUGINS.items():  # always on: they carry the built-in commands
            self._register(name, importlib.import_module(module_name), *core_dist)
        if load_entry_points:
            self._load_entry_points(disabled)

    @property
    def hook(self) -> Any:
        """The pluggy hook relay (``manager.hook.infd_on_train_step(event=...)``)."""
        return self.pm.hook

    def plugins(self) -> list[PluginInfo]:
        """Every plugin that loaded, core first, then by name."""
        return list(self._infos.values())

    def register(self, plugin: ModuleType | object, name: str, distribution: str = "") -> None:
        """Register an in-process plugin (tests, notebooks); invalidates the registry."""
        self._register(name, plugin, distribution, "")
        self._registry = None

    def registry(self) -> Registry:
        """The registry built from every plugin's component hooks (built once, then cached)."""
        if self._registry is None:
            registry = Registry()
            for kind in COMPONENT_KINDS:
                caller = getattr(self.pm.hook, f"infd_{kind}")
                for impl in reversed(caller.get_hookimpls()):  # registration order
                    for spec in self._call_component_hook(impl, kind):
                        info = self._infos.get(impl.plugin_name)
                        registry.add(
                            kind,
                            dataclasses.replace(
                                spec,
                                kind=kind,
                                plugin=impl.plugin_name,
                                distribution=info.distribution if info else "",
                            ),
                        )
            for (kind, name), specs in registry.conflicts().items():
                message = registry.conflict_message(kind, name)
                for plugin in dict.fromkeys(spec.plugin for spec in specs):
                    self._fail(plugin, message)
            self._registry = registry
        return self._registry

    def add_cli_commands(self, cli: Any) -> None:
        """Call every plugin's ``infd_cli_commands(cli)`` in hook order; one that raises (or exits) is
        reported as a failed plugin and the others' commands stay."""
        for impl in self.pm.hook.infd_cli_commands.get_hookimpls()[::-1]:  # pluggy's call order
            try:
                impl.function(cli=cli)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self._fail(impl.plugin_name, f"infd_cli_commands raised {type(exc).__name__}: {exc}")

    def _call_component_hook(self, impl: Any, kind: str) -> list[ComponentSpec]:
        try:
            specs = impl.function()
        except KeyboardInterrupt:
            raise
        except (
            BaseException
        ) as exc:  # a broken plugin (even one calling sys.exit) must not take the others down
            self._fail(impl.plugin_name, f"infd_{kind} raised {type(exc).__name__}: {exc}")
            return []
        if specs is None:
            return []
        if not isinstance(specs, (list, tuple)) or not all(isinstance(s, ComponentSpec) for s in specs):
            self._fail(impl.plugin_name, f"infd_{kind} must return a list of ComponentSpec")
            return []
        return list(specs)

    def _fail(self, name: str, error: str) -> None:
        info = self._infos.get(name)
        dist = info.distribution if info else ""
        logger.warning("plugin %s (%s) failed: %s", name, dist or "?", error)
        self.failures.append(PluginFailure(name=name, distribution=dist, error=error))

    def _register(self, name: str, plugin: object, distribution: str, version: str) -> None:
        self.pm.register(plugin, name=name)
        try:
            self.pm.check_pending()  # rejects hookimpls whose name matches no hookspec
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(plugin)
            self.failures.append(PluginFailure(name=name, distribution=distribution, error=str(exc)))
            logger.warning("plugin %s rejected: %s", name, exc)
            return
        hooks = tuple(sorted(c.name for c in self.pm.get_hookcallers(plugin) or []))
        module = getattr(plugin, "__name__", type(plugin).__name__)
        self._infos[name] = PluginInfo(name, module, distribution, version, hooks)

    def _load_entry_points(self, disabled: set[str]) -> None:
        seen: set[str] = set()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            dist_name = dist.name if dist is not None else ""
            version = dist.version if dist is not None else ""
            if ep.name in disabled or ep.name in seen:
                continue
            seen.add(ep.name)
            if ep.name in self._infos:
                self.failures.append(
                    PluginFailure(ep.name, dist_name, f"plugin name {ep.name!r} is already taken")
                )
                continue
            try:
                plugin = ep.load()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # report by name (SystemExit at import too), keep going
                error = f"failed to import {ep.value}: {type(exc).__name__}: {exc}"
                self.failures.append(PluginFailure(ep.name, dist_name, error))
                logger.warning("plugin %s (%s) %s", ep.name, dist_name, error)
                continue
            self._register(ep.name, plugin, dist_name, version)


def _distribution_of(module: str) -> tuple[str, str]:
    """(distribution, version) of a top-level module: the same-named distribution first (cheap), then
    the scan of every installed distribution's files (hundreds of milliseconds in a large env)."""
    guess = module.replace("_", "-")
    try:
        return guess, metadata.version(guess)
    except metadata.PackageNotFoundError:
        pass
    for dist_name in metadata.packages_distributions().get(module, []):
        try:
            return dist_name, metadata.version(dist_name)
        except metadata.PackageNotFoundError:
            continue
    return guess, ""


@lru_cache(maxsize=1)
def get_plugin_manager() -> InfdPluginManager:
    """The process-wide plugin manager (entry points loaded once)."""
    return InfdPluginManager()


def get_registry() -> Registry:
    """The process-wide registry."""
    return get_plugin_manager().registry()


def reset_plugin_manager() -> None:
    """Forget the process-wide manager (after installing plugins at run time, in tests)."""
    get_plugin_manager.cache_clear()


__all__ = [
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "InfdPluginManager",
    "PluginError",
    "PluginFailure",
    "PluginInfo",
    "get_plugin_manager",
    "get_registry",
    "reset_plugin_manager",
]
