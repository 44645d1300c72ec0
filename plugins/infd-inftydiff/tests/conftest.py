from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cli_runs import run_infd, write_config


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Path:
    """A tiny ∞-Diff model trained for 150 steps through the CLI (shared by several tests)."""
    folder = tmp_path_factory.mktemp("trained")
    config = write_config(folder / "run.yaml", folder / "out", steps=150)
    run_infd("train", str(config))
    return folder
