"""Train on MoGP through the CLI runner, sample 500 curves, then sample 4x denser from the checkpoint."""

from __future__ import annotations

import json

import numpy as np
import yaml

from infd_core.cli.main import run_cli

CONFIG = {
    "pipeline": "funcdiff",
    "seed": 0,
    "device": "cpu",
    "config": {
        "data": {"kind": "mogp", "mogp": {"num_curves": 200, "num_points": 64}},
        "noise": {"kernel": "exponential", "variance": 1.0, "length_scale": 0.1},
        "loss": "l2",
        "model": {"kind": "fno", "fno": {"width": 24, "modes": 12, "layers": 3, "projection": 64}},
        "train": {"steps": 2000, "batch_size": 32, "lr": 1e-3, "lr_step": 1400},
        "sampling": {"steps": 100},
    },
    "sample": {"num_samples": 500},
}

# Tolerances (mean/std errors are max pointwise differences over the data's overall std; measured on
# this config: mean 0.04, std 0.16, autocorrelation 0.02, log10 spectrum 0.07, fraction up 0.50).
TOLERANCES = {"mean_error": 0.1, "std_error": 0.25, "autocorrelation_error": 0.08, "spectrum_log_error": 0.2}


def _check(folder, num):
    stats = json.loads((folder / "statistics.json").read_text())["comparison"]
    for key, limit in TOLERANCES.items():
        assert stats[key] < limit, (key, stats)
    samples = np.load(folder / "samples.npz")
    values = samples["values"]
    assert values.shape == (num, samples["coords"].size) and np.isfinite(values).all()
    # the two modes: means 10x − 5 (rising) and −10x + 5 (falling), equal weights
    rising = (values[:, -1] > values[:, 0]).mean()
    assert 0.4 <= rising <= 0.6, rising
    assert (folder / "statistics.png").stat().st_size > 0
    return samples


def test_train_sample_and_resample_denser(tmp_path):
    config = dict(CONFIG, output=str(tmp_path / "run"))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    assert run_cli(["run", str(path)]) == 0
    samples = _check(tmp_path / "run" / "samples", 500)
    assert samples["coords"].size == 64

    denser = tmp_path / "dense"
    checkpoint = tmp_path / "run" / "checkpoint"
    assert run_cli(["sample", str(checkpoint), "--num", "200", "--size", "256", "--out", str(denser)]) == 0
    samples = _check(denser, 200)
    np.testing.assert_allclose(samples["coords"], np.linspace(0, 1, 256))
