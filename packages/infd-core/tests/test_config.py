"""Run configs: file formats, overrides, validation errors with key paths, schemas."""

from __future__ import annotations

import json

import pytest

from infd_core.config import ComponentRef, build_component, config_schema, load_run_config
from infd_core.config_files import apply_overrides, load_config_file, with_values
from infd_core.errors import ConfigError, UnknownComponentError

YAML = "pipeline: toy-regression\nseed: 3\nconfig:\n  steps: 7\n"
TOML = 'pipeline = "toy-regression"\nseed = 3\n[config]\nsteps = 7\n'
JSON = json.dumps({"pipeline": "toy-regression", "seed": 3, "config": {"steps": 7}})


@pytest.mark.parametrize(("suffix", "text"), [(".yaml", YAML), (".toml", TOML), (".json", JSON)])
def test_formats_load_to_the_same_config(tmp_path, manager, suffix, text):
    path = tmp_path / f"run{suffix}"
    path.write_text(text)
    run = load_run_config(str(path), manager.registry())
    assert (run.pipeline, run.seed, run.config.steps, run.config.lr) == ("toy-regression", 3, 7, 0.1)


def test_overrides_parse_values_and_create_paths():
    data = apply_overrides({"a": {"b": 1}}, ["a.b=2", "a.c.d=[1, 2]", "e=true", "f=hello", "g=1e-3", "h="])
    assert data == {"a": {"b": 2, "c": {"d": [1, 2]}}, "e": True, "f": "hello", "g": 1e-3, "h": ""}


@pytest.mark.parametrize("bad", ["novalue", "=3", "a..b=1"])
def test_malformed_override(bad):
    with pytest.raises(ConfigError, match=r"key\.path=value"):
        apply_overrides({}, [bad])


def test_override_fills_a_null_section():
    data = apply_overrides({"a": {"cond": None, "x": 1}}, ["a.cond.k=[1, 2]"])
    assert data == {"a": {"cond": {"k": [1, 2]}, "x": 1}}


def test_with_values_sets_dotted_keys_like_overrides():
    data = {"a": {"b": 1, "n": None}}
    expected = {"a": {"b": 3, "n": {"m": [0.5]}}, "c": "s"}
    assert with_values(data, {"a.b": 3, "a.n.m": [0.5], "c": "s"}) == expected
    assert data == {"a": {"b": 1, "n": None}}  # a copy
    with pytest.raises(ConfigError, match=r"key 'a\.b\.c': a\.b is a int"):
        with_values(data, {"a.b.c": 1})


def test_override_through_a_scalar_is_an_error():
    with pytest.raises(ConfigError, match="a is a int"):
        apply_overrides({"a": 1}, ["a.b=2"])


def test_wrong_type_names_the_key_path(tmp_path, manager):
    path = tmp_path / "run.yaml"
    path.write_text(YAML)
    with pytest.raises(ConfigError) as info:
        load_run_config(str(path), manager.registry(), ["config.steps=many"])
    message = str(info.value)
    assert "config.steps" in message and "'many'" in message and "\n" not in message


def test_unknown_key_and_bad_device(tmp_path, manager):
    path = tmp_path / "run.yaml"
    path.write_text(YAML + "colour: red\ndevice: gpu7\n")
    with pytest.raises(ConfigError) as info:
        load_run_config(str(path), manager.registry())
    assert "colour: Extra inputs are not permitted" in str(info.value)
    assert "device: Value error, device 'gpu7' is not one of: auto, cpu, cuda" in str(info.value)


def test_unknown_pipeline_lists_available(tmp_path, manager):
    path = tmp_path / "run.yaml"
    path.write_text("pipeline: toy-regresion\n")
    with pytest.raises(UnknownComponentError, match=r"available: toy-regression \(did you mean"):
        load_run_config(str(path), manager.registry())


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("bad.yaml", "pipeline: [unclosed\n", r"malformed YAML \(line 2"),
        ("bad.toml", "pipeline = \n", "malformed TOML"),
        ("bad.json", "{", "malformed JSON"),
        ("list.yaml", "- 1\n- 2\n", "top level must be a mapping"),
        ("run.ini", "x", "unknown config suffix"),
    ],
)
def test_malformed_files(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config_file(tmp_path / "none.yaml")


def test_schema_of_pipeline_includes_its_config(manager):
    schema = config_schema("toy-regression", manager.registry())
    assert "pipeline" in schema["properties"] and "config" in schema["properties"]
    toy = schema["$defs"]["ToyConfig"]["properties"]
    assert toy["steps"]["minimum"] == 1 and toy["lr"]["exclusiveMinimum"] == 0


def test_build_component_reports_nested_path(manager):
    ref = ComponentRef(name="toy-regression", config={"lr": -1})
    with pytest.raises(ConfigError, match=r"config\.trainer\.config\.lr: Input should be greater than 0"):
        build_component("pipelines", ref, manager.registry(), path="config.trainer", context=None)
