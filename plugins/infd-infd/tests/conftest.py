from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from helpers import run_infd, write_config

# Two CPU cores shared by several processes: more threads only oversubscribe them.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Path:
    """A tiny INFD run through ``infd run``: autoencoder and latent DDPM trained on the built-in
    photographs, then two 32² samples written to ``out/samples``."""
    folder = tmp_path_factory.mktemp("trained")
    config = write_config(folder / "run.yaml", folder / "out")
    run_infd("run", str(config), "--set", "sample.size=[32, 32]", "--set", "sample.num_samples=2")
    return folder
