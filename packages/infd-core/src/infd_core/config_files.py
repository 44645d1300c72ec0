"""Reading config files (YAML, TOML, JSON) and applying ``--set a.b=value`` overrides."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from infd_core.bounded_data import MAX_TEXT_BYTES, DataLimitError, load_json, load_toml, load_yaml
from infd_core.errors import ConfigError

_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")
SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}


def parse_data_text(text: str | bytes, fmt: str, source: str = "<string>") -> Any:
    """Parse ``text`` as ``yaml``, ``toml`` or ``json`` within the bounds of :mod:`infd_core.bounded_data`
    (nesting depth, YAML alias expansion); any problem is a one-line ConfigError naming ``source``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{source}: not UTF-8 text: {exc}") from None
    try:
        if fmt == "yaml":
            return load_yaml(text)
        if fmt == "toml":
            return load_toml(text)
        if fmt == "json":
            return load_json(text)
    except DataLimitError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}: malformed YAML{where}: {problem}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: malformed TOML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: malformed JSON: {exc}") from None
    raise ConfigError(f"{source}: unknown config format {fmt!r}")


def parse_config_text(text: str | bytes, fmt: str, source: str = "<string>") -> dict[str, Any]:
    """Parse ``text`` as ``yaml``, ``toml`` or ``json`` into a mapping (see :func:`parse_data_text`)."""
    data = parse_data_text(text, fmt, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, not {type(data).__name__}")
    return data


def read_text_bounded(path: Path, limit: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes (a ConfigError otherwise)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise ConfigError(f"{path}: larger than {limit >> 20} MiB; not a config file")
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML, TOML or JSON config file chosen by its suffix."""
    path = Path(path)
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(f"{path}: unknown config suffix {path.suffix!r}; use .yaml, .yml, .toml or .json")
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    return parse_config_text(read_text_bounded(path), fmt, source=str(path))


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into a key path and a YAML-parsed value."""
    key, sep, raw = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not key.strip() or any(not p for p in parts):
        raise ConfigError(f"override {item!r} must look like key.path=value")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except DataLimitError as exc:
        raise ConfigError(f"override {key.strip()!r}: {exc}") from None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and value == raw.strip() and _FLOAT.match(value):
        value = float(value)  # YAML 1.1 reads 1e-3 as a string
    return parts, value


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A deep copy of ``data`` with each ``key.path=value`` override set (creating mappings as needed)."""
    result = json.loads(json.dumps(data, default=str))
    for item in overrides:
        parts, value = parse_override(item)
        _set_path(result, parts, value, f"override {item!r}")
    return result


def with_values(data: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``data`` with each ``"key.path": value`` set, as ``--set key.path=value`` would."""
    result = json.loads(json.dumps(data, default=str))
    for key, value in values.items():
        _set_path(result, key.split("."), value, f"key {key!r}")
    return result


def _set_path(node: dict[str, Any], parts: list[str], value: Any, label: str) -> None:
    for depth, part in enumerate(parts[:-1]):
        if node.get(part) is None:  # a missing or null section (an optional config left unset) starts empty
            node[part] = {}
        child = node[part]
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(f"{label}: {where} is a {type(child).__name__}, not a mapping")
        node = child
    node[parts[-1]] = value


def format_location(loc: Iterable[Any]) -> str:
    """``("config", "model", 0, "width")`` -> ``config.model[0].width``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<root>"
