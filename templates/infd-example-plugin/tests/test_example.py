"""The template's own tests: copy them with the template and keep them passing.

They run where the plugin is installed (``pip install -e .[test]``, or ``nox -s
tests-infd-example-plugin`` in the infd repository): registration goes through the entry point.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from infd_core.config import resolve_run_config
from infd_core.errors import UsageError
from infd_core.plugins import InfdPluginManager
from infd_core.runner import Runner


def run_config(tmp_path, **config):
    registry = InfdPluginManager().registry()
    data = {
        "pipeline": "example-mean",
        "output": str(tmp_path / "out"),
        "config": {"data_mean": -2.0, "steps": 60, **config},
        "sample": {"num_samples": 2000},
    }
    return resolve_run_config(data, registry, source="test")


def test_entry_point_registers_the_pipeline():
    spec = InfdPluginManager().registry().get("pipelines", "example-mean")
    assert spec.distribution == "infd-example-plugin"
    assert "mean of 1-D Gaussian data" in spec.description


def test_hooks_import_no_torch():
    code = "import sys, infd_example.plugin, infd_example.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_train_then_sample_recovers_the_data_distribution(tmp_path):
    result = Runner().run(run_config(tmp_path))
    assert abs(result.metrics["mean"] - -2.0) < 0.1  # gradient descent on 60 batches of 64 draws
    values = [float(v) for v in Path(result.samples[0]).read_text().split()]
    assert len(values) == 2000
    assert abs(statistics.fmean(values) - -2.0) < 0.12  # + 5 standard errors of 2000 draws of std 0.5
    assert abs(statistics.stdev(values) - 0.5) < 0.05


def test_checkpoint_round_trip_and_seeded_sampling(tmp_path):
    runner = Runner()
    first = runner.run(run_config(tmp_path))
    overrides = ["sample.num_samples=2000", f"sample.out={tmp_path / 'again'}"]
    again = runner.config_from_checkpoint(first.checkpoint, overrides)
    assert torch.equal(runner.build(again).mean, torch.zeros(()))  # before loading
    samples = runner.sample(again).samples
    assert samples[0] != first.samples[0]
    assert Path(samples[0]).read_text() == Path(first.samples[0]).read_text()  # same weights and seed


def test_bad_config_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="data_std"):
        run_config(tmp_path, data_std=-1.0)
