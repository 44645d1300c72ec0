from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from brush_runs import run_infd, write_config

# The tests run tiny models on a shared 2-core machine: one intra-op thread avoids oversubscription,
# which makes these many small ops several times slower.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Path:
    """A tiny class-conditional model (dark vs bright photo) trained for 250 steps through the CLI."""
    folder = tmp_path_factory.mktemp("trained")
    config = write_config(folder / "run.yaml", folder / "out", steps=250)
    run_infd("train", str(config))
    return folder
