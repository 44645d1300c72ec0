"""Release metadata of every distribution (as installed, i.e. as built) and the one-command version bump."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUMP = ROOT / "tools" / "bump_version.py"
FOLDERS = sorted(
    p.parent for p in [*ROOT.glob("packages/*/pyproject.toml"), *ROOT.glob("plugins/*/pyproject.toml")]
)
NAMES = [tomllib.loads((f / "pyproject.toml").read_text())["project"]["name"] for f in FOLDERS]
RELATIVE_LINK = re.compile(r"\]\((?!https?://|#)([^)]*)\)")


@pytest.mark.parametrize("name", NAMES)
def test_installed_metadata_is_release_ready(name):
    meta = metadata.metadata(name)
    assert meta["License-Expression"] == "Apache-2.0" and "LICENSE" in meta.get_all("License-File")
    assert meta["Requires-Python"] == ">=3.11"  # what nox tests: Python 3.11
    assert "Programming Language :: Python :: 3.11" in meta.get_all("Classifier")
    assert meta["Author"] and meta["Keywords"]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Documentation", "Source", "Issues"} <= set(urls)
    description = meta.get_payload() or meta["Description"]
    assert description.startswith(f"# {name}") and RELATIVE_LINK.findall(description) == []
    requires = meta.get_all("Requires-Dist") or []
    assert "torch>=2.13" in requires  # the floor nox tests (2.13.0; 2.14.1 with torchvision)
    version = meta["Version"]
    for requirement in requires:
        if requirement.startswith("infd-"):  # in an extra too: "infd-x~=V; extra == '...'"
            assert requirement.split(";")[0].strip().endswith(f"~={version}"), requirement


@pytest.mark.parametrize("name", NAMES)
def test_each_distribution_carries_the_license(name):
    root_license = (ROOT / "LICENSE").read_bytes()
    assert b"Apache License" in root_license and b"Version 2.0" in root_license
    files = metadata.distribution(name).files or []
    license_file = next(f for f in files if f.name == "LICENSE" and f.parent.name == "licenses")
    assert license_file.locate().read_bytes() == root_license
    assert (FOLDERS[NAMES.index(name)] / "LICENSE").read_bytes() == root_license  # the copy the sdist takes


def test_versions_and_pins_agree_in_the_repository():
    done = subprocess.run([sys.executable, str(BUMP), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The files the bump touches, in the repository's layout."""
    for pattern in ("packages/*/pyproject.toml", "plugins/*/pyproject.toml", "templates/*/pyproject.toml"):
        for path in ROOT.glob(pattern):
            (tmp_path / path.parent.relative_to(ROOT)).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, tmp_path / path.relative_to(ROOT))
    for path in [*ROOT.glob("packages/*/src/*/__init__.py"), *ROOT.glob("plugins/*/src/*/__init__.py")]:
        (tmp_path / path.parent.relative_to(ROOT)).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, tmp_path / path.relative_to(ROOT))
    return tmp_path


def _bump(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BUMP), *args, "--root", str(root)], capture_output=True, text=True
    )


def test_one_command_bumps_every_version_and_sibling_pin(repo_copy):
    done = _bump(repo_copy, "0.2.0")
    assert done.returncode == 0, done.stderr
    for folder in FOLDERS:
        project = tomllib.loads((repo_copy / folder.relative_to(ROOT) / "pyproject.toml").read_text())[
            "project"
        ]
        assert project["version"] == "0.2.0"
        extras = [r for reqs in project.get("optional-dependencies", {}).values() for r in reqs]
        infd = [r for r in [*project["dependencies"], *extras] if r.startswith("infd-")]
        assert all(r.endswith("~=0.2.0") for r in infd), infd
        assert "torch>=2.13" in project["dependencies"]  # other requirements are left alone
    template = tomllib.loads((repo_copy / "templates/infd-example-plugin/pyproject.toml").read_text())
    assert template["project"]["dependencies"] == ["infd-core~=0.2.0"]
    assert template["project"]["version"] == "0.0.1"  # a template keeps its own version
    inits = repo_copy.glob("*/*/src/*/__init__.py")
    found = [m.group(1) for p in inits if (m := re.search(r'^__version__ = "(.*)"$', p.read_text(), re.M))]
    assert len(found) >= 6 and set(found) == {"0.2.0"}


def test_check_names_a_pin_that_lags(repo_copy):
    path = repo_copy / "plugins/infd-gud/pyproject.toml"
    path.write_text(path.read_text().replace('"infd-io~=', '"infd-io~=0.0.9x', 1))
    done = _bump(repo_copy, "--check")
    assert (
        done.returncode == 1 and "plugins/infd-gud/pyproject.toml" in done.stderr and "infd-io" in done.stderr
    )
    assert _bump(repo_copy, "bad-version").returncode != 0
