"""Config parsing within bounds: alias bombs, deep nesting, recursive aliases, huge files."""

from __future__ import annotations

import time

import pytest

from infd_core.bounded_data import MAX_DEPTH, MAX_EXPANDED_NODES, check_depth, load_yaml
from infd_core.config_files import apply_overrides, load_config_file, parse_config_text, parse_override
from infd_core.errors import ConfigError


def _nested(depth: int, fmt: str) -> str:
    """``depth`` nested lists under key x (the top-level mapping is one more level)."""
    inner = "[" * depth + "]" * depth
    return {"yaml": f"x: {inner}\n", "json": f'{{"x": {inner}}}', "toml": f"x = {inner}\n"}[fmt]


def _bomb(levels: int, width: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['x'] * width)}]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_anchors_and_merge_keys_still_work():
    data = parse_config_text("base: &b {lr: 0.1, steps: 3}\ntrain: {<<: *b, steps: 5}\nalso: *b\n", "yaml")
    assert data["train"] == {"lr": 0.1, "steps": 5} and data["also"] == {"lr": 0.1, "steps": 3}


def test_alias_bomb_fails_fast_naming_the_limit():
    start = time.perf_counter()
    with pytest.raises(
        ConfigError, match=r"bomb\.yaml: refused YAML \(line \d+, column \d+\): aliases expand"
    ):
        parse_config_text(_bomb(9), "yaml", "bomb.yaml")  # 9**10 values once expanded
    assert time.perf_counter() - start < 2


def test_expansion_limit_is_counted_exactly():
    """width**(levels+1) leaves plus the lists above them: one level below the limit passes."""
    levels, width = 4, 10  # 10**5 leaves + 11111 lists + keys: below 1,000,000
    data = load_yaml(_bomb(levels, width))
    assert len(data[f"l{levels}"]) == width
    assert sum(width**k for k in range(levels + 2)) < MAX_EXPANDED_NODES
    with pytest.raises(ValueError, match="aliases expand"):
        load_yaml(_bomb(levels + 1, width))  # 10**6 leaves


def test_recursive_alias_is_refused():
    with pytest.raises(ConfigError, match="alias refers to its own anchor"):
        parse_config_text("a: &a [1, *a]\n", "yaml")


@pytest.mark.parametrize("fmt", ["yaml", "json", "toml"])
def test_nesting_up_to_the_limit_passes_and_deeper_is_refused(fmt):
    assert parse_config_text(_nested(MAX_DEPTH - 2, fmt), fmt)["x"] is not None
    for depth in (MAX_DEPTH + 1, 100_000):  # 100k: RecursionError in the parsers before the bound
        with pytest.raises(ConfigError, match=f"nested deeper than {MAX_DEPTH} levels"):
            parse_config_text(_nested(depth, fmt), fmt, f"deep.{fmt}")


def test_check_depth_walks_without_recursion():
    value: list = []
    for _ in range(200_000):
        value = [value]
    with pytest.raises(ValueError, match="nested deeper"):
        check_depth(value)
    check_depth([[[1]]])


def test_override_values_are_bounded_too():
    with pytest.raises(ConfigError, match=r"override 'a\.b': refused YAML"):
        parse_override("a.b=" + "[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError, match="aliases expand"):
        apply_overrides({}, ["a=" + _bomb(9).replace("\n", ", ").join("{}")])


def test_huge_config_file_is_not_read(tmp_path):
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:
        handle.truncate(17 << 20)
    with pytest.raises(ConfigError, match="larger than 16 MiB"):
        load_config_file(path)


def test_float_settings_are_finite_unless_declared_otherwise():
    from pydantic import BaseModel, Field, ValidationError

    from infd_core.config import FloatOrInfinity, StrictModel

    class Settings(StrictModel):
        lr: float = 0.1
        softness: FloatOrInfinity = Field(1.0, gt=0)
        pair: tuple[float, float] = (0.0, 1.0)

    assert issubclass(Settings, BaseModel) and Settings(softness=float("inf")).softness == float("inf")
    for bad in (
        {"lr": float("inf")},
        {"lr": float("nan")},
        {"pair": (0, float("-inf"))},
        {"softness": float("nan")},
    ):
        with pytest.raises(ValidationError):
            Settings(**bad)
