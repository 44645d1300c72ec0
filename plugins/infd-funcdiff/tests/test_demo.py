"""``infd demo funcdiff``: the shipped checkpoint samples MoGP curves at 4× its training density.

The reference is the data's closed form, not our own output: MoGP is a 50/50 mixture of
GP(±(10x − 5), k) with k(x, x) = 0.4, so each mode has mean ±(10x − 5) and std √0.4, and the mixture
has mean 0 and variance 0.4 + (10x − 5)².
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from infd_core.checkpoints import load_checkpoint
from infd_core.cli.main import run_cli
from infd_funcdiff.demo import DEMO_POINTS, DEMO_SAMPLES, checkpoint_path


def test_shipped_checkpoint_is_safetensors_only():
    folder = Path(checkpoint_path())
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "ema.safetensors", "model.safetensors"]
    assert sum(p.stat().st_size for p in folder.iterdir()) < 5 * 2**20
    ckpt = load_checkpoint(str(folder))
    assert ckpt.config["pipeline"] == "funcdiff" and ckpt.meta["step"] == 4000
    assert ckpt.config["config"]["data"]["mogp"]["num_points"] * 4 == DEMO_POINTS


def test_demo_matches_the_mixture_in_closed_form(tmp_path):
    assert run_cli(["demo", "funcdiff", "--out", str(tmp_path / "demo")]) == 0
    folder = tmp_path / "demo" / "samples"
    assert (folder / "statistics.png").stat().st_size > 1000
    samples = np.load(folder / "samples.npz")
    x, values = samples["coords"], samples["values"]
    np.testing.assert_allclose(x, np.linspace(0, 1, DEMO_POINTS))
    assert values.shape == (DEMO_SAMPLES, DEMO_POINTS) and np.isfinite(values).all()

    mode_mean = 10 * x - 5
    std = np.sqrt(0.4 + mode_mean**2)
    # measured: 6.4 % at worst (500 samples: the sampling error alone is ≈ 3 %)
    assert np.abs(values.std(axis=0) / std - 1).max() < 0.12
    rising = values[:, -1] > values[:, 0]
    assert 0.42 <= rising.mean() <= 0.58  # measured 0.51; 500 fair draws: 0.5 ± 0.022
    # each mode around its own mean (measured max 0.34, within-mode std 0.71-0.73 vs √0.4 = 0.63)
    for sign, mode in ((1, values[rising]), (-1, values[~rising])):
        assert np.abs(mode.mean(axis=0) - sign * mode_mean).max() < 0.6
        assert 0.5 < mode.std(axis=0).mean() < 0.85
