"""Plugin loading: entry points, broken plugins, unknown hooks, disabling, listing stays light."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from infd_core import ComponentSpec, hookimpl
from infd_core.cli.commands import plugins_report
from infd_core.errors import DuplicateComponentError
from infd_core.plugins import InfdPluginManager

GOOD_PLUGIN = """
from infd_core import ComponentSpec, hookimpl

@hookimpl
def infd_schedules():
    return [ComponentSpec(name="good-schedule", factory="good_heavy:build", config="good_heavy:Config",
                          description="lazily imported")]
"""
HEAVY_MODULE = """
from pydantic import BaseModel
IMPORTED = True

class Config(BaseModel):
    width: int = 3

def build(config):
    return ("built", config.width)
"""


def test_entry_point_plugin_is_loaded_with_its_distribution(fake_distribution):
    root = fake_distribution("infd-good", "good_plugin", GOOD_PLUGIN)
    (root / "good_heavy.py").write_text(HEAVY_MODULE)
    manager = InfdPluginManager()
    info = {p.name: p for p in manager.plugins()}["good_plugin"]
    assert (info.distribution, info.version) == ("infd-good", "0.3.0")
    spec = manager.registry().get("schedules", "good-schedule")
    assert spec.distribution == "infd-good" and spec.kind == "schedules"
    assert "good_heavy" not in sys.modules  # listing imports neither config nor factory
    assert spec.build({"width": 5}) == ("built", 5)
    sys.modules.pop("good_heavy", None)


def test_broken_plugin_is_reported_by_name_and_others_still_load(fake_distribution):
    fake_distribution("infd-broken", "broken_plugin", "raise RuntimeError('kaboom at import')")
    root = fake_distribution("infd-good", "good_plugin", GOOD_PLUGIN)
    (root / "good_heavy.py").write_text(HEAVY_MODULE)
    manager = InfdPluginManager()
    failures = {f.name: f for f in manager.failures}
    assert "kaboom at import" in failures["broken_plugin"].error
    assert failures["broken_plugin"].distribution == "infd-broken"
    assert ("schedules", "good-schedule") in manager.registry()


def test_unknown_hook_name_is_rejected(fake_distribution):
    source = """
    from infd_core import hookimpl

    @hookimpl
    def infd_shedules():
        return []
    """
    fake_distribution("infd-typo", "typo_plugin", source)
    manager = InfdPluginManager()
    assert "typo_plugin" not in {p.name for p in manager.plugins()}
    (failure,) = [f for f in manager.failures if f.name == "typo_plugin"]
    assert "infd_shedules" in failure.error


def test_disable_env_skips_plugins(fake_distribution, monkeypatch):
    root = fake_distribution("infd-good", "good_plugin", GOOD_PLUGIN)
    (root / "good_heavy.py").write_text(HEAVY_MODULE)
    monkeypatch.setenv("INFD_DISABLE_PLUGINS", "other, good_plugin")
    manager = InfdPluginManager()
    assert "good_plugin" not in {p.name for p in manager.plugins()}
    assert ("schedules", "good-schedule") not in manager.registry()
    assert "good_plugin" not in sys.modules


def test_component_hook_that_raises_is_isolated(manager):
    class Raising:
        @hookimpl
        def infd_models(self):
            raise ValueError("bad models hook")

    manager.register(Raising(), name="raising")
    registry = manager.registry()
    assert ("pipelines", "toy-regression") in registry
    assert any(f.name == "raising" and "bad models hook" in f.error for f in manager.failures)


def test_duplicate_component_name_disables_only_that_name(manager):
    class Twin:
        @hookimpl
        def infd_pipelines(self):
            return [ComponentSpec(name="toy-regression", factory=dict, config="x:y")]

        @hookimpl
        def infd_schedules(self):
            return [ComponentSpec(name="twin-schedule", factory=dict, config="x:y")]

    manager.register(Twin(), name="twin", distribution="infd-twin")
    registry = manager.registry()  # builds: the conflict does not take every component down
    with pytest.raises(DuplicateComponentError, match=r"infd-toy.*infd-twin|infd-twin.*infd-toy"):
        registry.get("pipelines", "toy-regression")
    assert ("schedules", "twin-schedule") in registry  # the twin's other component is still there
    assert ("pipelines", "toy-regression") not in registry
    failed = {f.name: f.error for f in manager.failures}
    assert set(failed) >= {"toy", "twin"} and "registered twice" in failed["twin"]
    report = plugins_report(manager)  # `infd plugins` still lists everything and the conflict
    assert {"toy", "twin"} <= {f["name"] for f in report["failures"]}


@pytest.mark.parametrize(
    ("statement", "raised"),
    [
        ("import sys; sys.exit(7)", "SystemExit: 7"),
        ("raise SystemExit('bye')", "SystemExit: bye"),
        ("raise GeneratorExit", "GeneratorExit"),
    ],
)
def test_plugin_exiting_at_import_is_a_failure(fake_distribution, statement, raised):
    fake_distribution("infd-exiting", "exiting_plugin", statement)
    root = fake_distribution("infd-good", "good_plugin", GOOD_PLUGIN)
    (root / "good_heavy.py").write_text(HEAVY_MODULE)
    manager = InfdPluginManager()
    (failure,) = [f for f in manager.failures if f.name == "exiting_plugin"]
    assert failure.distribution == "infd-exiting" and "failed to import" in failure.error
    assert raised in failure.error
    assert ("schedules", "good-schedule") in manager.registry()


def test_component_hook_calling_sys_exit_is_isolated(manager):
    class Exiting:
        @hookimpl
        def infd_models(self):
            raise SystemExit(7)

    manager.register(Exiting(), name="exiting")
    assert ("pipelines", "toy-regression") in manager.registry()
    assert any(f.name == "exiting" and "SystemExit" in f.error for f in manager.failures)


def test_plugins_report_lists_core_and_components(manager):
    report = plugins_report(manager)
    by_name = {p["name"]: p for p in report["plugins"]}
    assert by_name["infd_core"]["distribution"] == "infd-core"
    assert "infd_cli_commands" in by_name["infd_core"]["hooks"]
    assert by_name["toy"]["components"] == {"pipelines": ["toy-regression"]}
    json.dumps(report)


def test_cli_lists_plugins_as_json_in_a_fresh_process():
    code = textwrap.dedent(
        """
        import sys
        from infd_core.cli.main import main
        sys.argv = ["infd", "plugins", "--json"]
        main()
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert "infd_core" in [p["name"] for p in report["plugins"]]
