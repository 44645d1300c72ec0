"""``infd demo infbrush``: the shipped checkpoint samples each class at 2× its training size.

The reference is the training data itself: crops of the class's photograph (``hubble_deep_field`` for
class 0, ``immunohistochemistry`` for class 1), whose mean colour and contrast each class-conditional
sample must reproduce.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from brush_runs import read_level0, run_infd

from infd_core.checkpoints import load_checkpoint
from infd_infbrush.demo import DEMO_CLASSES, DEMO_SIZE, checkpoint_path
from infd_io import BuiltinPhotos


def test_shipped_checkpoint_is_safetensors_only():
    folder = Path(checkpoint_path())
    names = sorted(p.name for p in folder.iterdir())
    assert "config.json" in names and all(n.endswith(".safetensors") for n in names if n != "config.json")
    assert sum(p.stat().st_size for p in folder.iterdir()) < 20 * 2**20
    ckpt = load_checkpoint(str(folder))
    assert ckpt.config["pipeline"] == "infbrush" and ckpt.meta["step"] == 3000
    assert ckpt.config["config"]["data"]["resolution"] * 2 == DEMO_SIZE


def test_demo_samples_look_like_their_class(tmp_path):
    run_infd("demo", "infbrush", "--out", str(tmp_path / "demo"))
    classes = load_checkpoint(checkpoint_path()).config["config"]["data"]["classes"]
    reference = []
    for name in classes:
        photos = BuiltinPhotos(resolution=32, num_items=256, seed=7, photos=[name], value_range=(0.0, 1.0))
        crops = torch.stack([photos[i]["image"] for i in range(256)]).numpy()
        reference.append((crops.mean(axis=(0, 2, 3)), crops.std()))
    # class means: 0.078 (dark) and 0.615 (bright), contrast 0.071 and 0.188
    for i, label in enumerate(DEMO_CLASSES):
        folder = tmp_path / "demo" / "samples"
        image = read_level0(folder / f"sample-{i:03d}.ome.zarr")
        assert image.shape == (3, DEMO_SIZE, DEMO_SIZE)
        assert (folder / f"sample-{i:03d}.png").is_file()
        image = image.astype(np.float64) / 255
        (mean, contrast), (other_mean, _) = reference[label], reference[1 - label]
        colour = image.mean(axis=(1, 2))
        # measured: at most 0.08 from the class's mean colour, 0.44 or more from the other class's
        assert np.abs(colour - mean).max() < 0.15, (i, colour, mean)
        assert np.abs(colour - other_mean).min() > 0.3, (i, colour, other_mean)
        assert 0.5 * contrast < image.std() < 2 * contrast, (i, image.std(), contrast)  # measured ×0.96–1.45
