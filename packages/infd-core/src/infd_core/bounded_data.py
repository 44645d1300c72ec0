"""Parsing untrusted YAML, JSON and TOML with bounds: nesting depth, alias expansion, size.

A 2 KB YAML file whose anchors refer to anchors ("billion laughs") expands to billions of nodes once
copied (the overrides' JSON round-trip, validation); deeply nested brackets make the recursive parts of
the parsers and of every later tree walk fail with ``RecursionError``. Both are refused here, in time
proportional to the text, with a :class:`DataLimitError` naming the limit.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

#: Deepest nesting of mappings and lists accepted in a config (real configs use fewer than 10 levels).
MAX_DEPTH = 100
#: Most values a YAML document may have once its aliases are expanded.
MAX_EXPANDED_NODES = 1_000_000
#: Largest config file read (bytes).
MAX_TEXT_BYTES = 16 << 20


class DataLimitError(ValueError):
    """A document exceeds a parsing bound (depth, alias expansion); the message names it."""


class _LimitMarkedError(yaml.MarkedYAMLError):
    """Raised inside the YAML composer, so that the position of the offending node is known."""


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with a nesting-depth bound and a bound on the size after alias expansion."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _LimitMarkedError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return self.construct_document(node)


def _check_expansion(root: Node) -> None:
    """Count the nodes of ``root`` with every alias expanded (each distinct node counted once, with
    its size memoised) and refuse recursive aliases."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _LimitMarkedError(None, None, "an alias refers to its own anchor", node.start_mark)
        active.add(key)
        if isinstance(node, SequenceNode):
            total = 1 + sum(size(child) for child in node.value)
        elif isinstance(node, MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1
        active.discard(key)
        if total > MAX_EXPANDED_NODES:
            raise _LimitMarkedError(
                None,
                None,
                f"aliases expand to more than {MAX_EXPANDED_NODES:,} values (an alias bomb?)",
                node.start_mark,
            )
        sizes[key] = total
        return total

    size(root)  # recursion depth is bounded by MAX_DEPTH (the composer refused deeper documents)


def load_yaml(text: str) -> Any:
    """Parse one YAML document like ``yaml.safe_load``, within the bounds; errors are ``yaml.YAMLError``
    (a position is given) or :class:`DataLimitError`."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except _LimitMarkedError as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise DataLimitError(f"refused YAML{where}: {exc.problem}") from None
    finally:
        loader.dispose()


def _parse_bounded(parse: Any, text: Any, label: str) -> Any:
    """``parse(text)`` within the depth bound (a parser's recursion limit reads as too deep too)."""
    try:
        data = parse(text)
    except RecursionError:
        raise DataLimitError(f"refused {label}: nested deeper than {MAX_DEPTH} levels") from None
    check_depth(data, label)
    return data


def load_json(text: str | bytes) -> Any:
    """``json.loads`` within the depth bound (``json.JSONDecodeError`` for malformed text)."""
    return _parse_bounded(json.loads, text, "JSON")


def load_toml(text: str) -> Any:
    """``tomllib.loads`` within the depth bound (``tomllib.TOMLDecodeError`` for malformed text)."""
    return _parse_bounded(tomllib.loads, text, "TOML")


def check_depth(data: Any, what: str = "data") -> None:
    """Refuse ``data`` nested deeper than :data:`MAX_DEPTH` (walked without recursion)."""
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise DataLimitError(f"refused {what}: nested deeper than {MAX_DEPTH} levels")
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
