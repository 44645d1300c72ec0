"""A third-party plugin installed with pip shows up, runs from a config, and goes away again."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from cli_helpers import infd, plugins_json

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "infd-example-plugin"
EXAMPLE = (str(TEMPLATE), "infd-example-plugin")  # the plugin template authors copy
BROKEN = ("infd-broken-plugin", "infd-broken-plugin")

# they change the venv's installed distributions (and check that), so nothing may run beside them
pytestmark = pytest.mark.installs


@pytest.mark.parametrize("installed_plugin", [EXAMPLE], indirect=True)
def test_example_plugin_lists_and_runs(installed_plugin, tmp_path):
    report = plugins_json()
    plugin = {p["name"]: p for p in report["plugins"]}["example"]
    assert plugin["distribution"] == "infd-example-plugin" and plugin["version"] == "0.0.1"
    assert plugin["components"] == {"pipelines": ["example-mean"]}
    assert "infd_core" in {p["name"] for p in report["plugins"]} and not report["failures"]

    config = tmp_path / "run.toml"
    config.write_text(
        f'pipeline = "example-mean"\noutput = "{tmp_path / "out"}"\n'
        "[config]\ndata_mean = 3.0\nsteps = 40\n[sample]\nnum_samples = 400\n"
    )
    result = infd("run", str(config), check=True)
    assert "checkpoint:" in result.stdout
    values = [float(v) for v in (tmp_path / "out" / "samples" / "samples.txt").read_text().split()]
    assert len(values) == 400
    assert abs(statistics.fmean(values) - 3.0) < 0.15  # trained mean, plus 400 draws of std 0.5
    assert abs(statistics.stdev(values) - 0.5) < 0.1

    again = infd("sample", str(tmp_path / "out" / "checkpoint"), "--num", "3", "--out", str(tmp_path / "s2"))
    assert again.returncode == 0, again.stderr
    assert len((tmp_path / "s2" / "samples.txt").read_text().split()) == 3


def test_uninstalled_plugin_is_gone():
    names = {p["name"] for p in plugins_json()["plugins"]}
    assert "example" not in names and "broken" not in names


@pytest.mark.parametrize("installed_plugin", [BROKEN], indirect=True)
def test_broken_plugin_is_reported_and_cli_still_works(installed_plugin, tmp_path):
    report = plugins_json()
    (failure,) = [f for f in report["failures"] if f["name"] == "broken"]
    assert failure["distribution"] == "infd-broken-plugin"
    assert "broken on purpose" in failure["error"]
    text = infd("plugins", check=True).stdout
    assert "FAILED broken (infd-broken-plugin)" in text
    config = tmp_path / "run.yaml"
    config.write_text("pipeline: nonesuch\n")
    result = infd("run", str(config))
    assert result.returncode == 2 and "unknown pipeline 'nonesuch'" in result.stderr
    assert "broken" in result.stderr  # the warning names the failed plugin
