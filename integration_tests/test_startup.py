"""With every distribution installed, ``infd --help``, ``plugins`` and ``config`` import no torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from infd_core.plugins import get_plugin_manager
from infd_core.runner import Runner

RUN = """
import sys
from infd_core.cli.main import run_cli
for argv in {commands!r}:
    status = run_cli(argv)
    assert status == 0, (argv, status)
print("TORCH_IMPORTED" if "torch" in sys.modules else "NO_TORCH")
"""


def torch_imported(*commands: list[str]) -> bool:
    """Run ``commands`` one after the other in a fresh interpreter; whether any imported torch."""
    script = RUN.format(commands=[list(c) for c in commands])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1] == "TORCH_IMPORTED"


PIPELINES = sorted(spec.name for spec in get_plugin_manager().registry().specs("pipelines"))


def test_help_and_plugins_import_no_torch():
    assert not torch_imported(["--help"], ["plugins", "--json"], ["render", "--help"], ["sample", "--help"])


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_config_commands_of_each_pipeline_import_no_torch(pipeline, tmp_path):
    demo = Runner().demo_config(pipeline)
    path = tmp_path / "demo.json"
    path.write_text(json.dumps({**demo, "output": str(tmp_path / "out")}))
    assert not torch_imported(["config", "schema", pipeline], ["config", "show", str(path)])


def test_the_check_sees_an_import_of_torch():
    # --version reports torch's version and the device, so it imports torch: the check must see that
    assert torch_imported(["--version"])
