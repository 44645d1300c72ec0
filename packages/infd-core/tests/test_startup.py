"""``infd --help``, ``plugins`` and ``config`` start without importing torch; ``--version`` reports it."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from infd_core.cli.main import run_cli

# A plugin whose pipeline config is torch-free, like every real pipeline's config module must be.
LIGHT_PLUGIN = """
from pydantic import Field

from infd_core import ComponentSpec, hookimpl
from infd_core.config import StrictModel


class LightConfig(StrictModel):
    steps: int = Field(3, ge=1)


@hookimpl
def infd_pipelines():
    return [ComponentSpec(name="light", factory="light_plugin:Missing", config="light_plugin:LightConfig")]
"""

RUN = """
import sys
sys.path.insert(0, {folder!r})
import light_plugin
from infd_core.cli.main import run_cli
from infd_core.plugins import InfdPluginManager

manager = InfdPluginManager()
manager.register(light_plugin, name="light", distribution="light")
status = run_cli({argv!r}, manager)
print("TORCH_IMPORTED" if "torch" in sys.modules else "NO_TORCH", status)
"""


@pytest.fixture
def light(tmp_path: Path) -> Path:
    (tmp_path / "light_plugin.py").write_text(LIGHT_PLUGIN)
    (tmp_path / "run.yaml").write_text(f"pipeline: light\noutput: {tmp_path / 'out'}\nconfig: {{steps: 5}}\n")
    return tmp_path


def imports_torch(folder: Path, *argv: str) -> bool:
    """Run the CLI with ``argv`` in a fresh interpreter; whether torch got imported (status must be 0)."""
    script = RUN.format(folder=str(folder), argv=list(argv))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0 and last.endswith(" 0"), (argv, done.stdout[-2000:], done.stderr[-2000:])
    return last.startswith("TORCH_IMPORTED")


@pytest.mark.parametrize(
    "argv",
    [
        ("--help",),
        ("plugins",),
        ("config", "schema", "light"),
        ("sample", "--help"),
        ("checkpoint", "--help"),
    ],
)
def test_listing_commands_import_no_torch(light, argv):
    assert not imports_torch(light, *argv)


def test_config_show_imports_no_torch(light):
    assert not imports_torch(light, "config", "show", str(light / "run.yaml"), "--set", "seed=3")


def test_the_check_sees_torch_when_it_is_imported(light):
    # the same harness must notice an import of torch, or the tests above could not fail
    (light / "light_plugin.py").write_text(LIGHT_PLUGIN + "\nimport torch\n")
    assert imports_torch(light, "--help")


def test_version_lists_distributions_torch_and_device(manager, capsys):
    import torch

    assert run_cli(["--version"], manager) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"infd-core {metadata.version('infd-core')}" in lines
    assert any(line.startswith(f"torch {torch.__version__}") for line in lines)
    device = next(line for line in lines if line.startswith("device: "))
    assert device.startswith("device: cuda:0" if torch.cuda.is_available() else "device: cpu")
