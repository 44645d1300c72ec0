"""Bad input to the ∞-Diff pipeline gives clear errors and the right exit statuses."""

from __future__ import annotations

import numpy as np
import torch
from cli_runs import run_infd, write_config
from PIL import Image

from infd_core.checkpoints import save_checkpoint


def test_bad_sizes(trained, tmp_path):
    ckpt = str(trained / "out" / "checkpoint")
    run_infd("sample", ckpt, "--size", "0", expect=2)
    run_infd("sample", ckpt, "--size", "2x2", "--out", str(tmp_path / "x.ome.zarr"), expect=2)
    run_infd("sample", ckpt, "--size", "8x8x8", "--out", str(tmp_path / "y.ome.zarr"), expect=2)


def test_subsampling_not_above_one(tmp_path):
    config = write_config(
        tmp_path / "run.yaml", tmp_path / "out", data={"resolution": 32, "subsampling": 1.0}
    )
    run_infd("train", str(config), expect=2)


def test_checkpoint_of_another_pipeline(tmp_path):
    other = tmp_path / "other"
    save_checkpoint(str(other), {"pipeline": "gud"}, {"model": {"w": torch.zeros(1)}})
    config = write_config(tmp_path / "run.yaml", tmp_path / "out")
    run_infd("train", str(config), "--resume", str(other), expect=2)  # a mismatch: a usage error
    assert not (tmp_path / "out").exists()  # found before the output folder is made


def test_mask_of_the_wrong_shape(trained, tmp_path):
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "image.png")
    Image.fromarray(np.zeros((16, 32), np.uint8)).save(tmp_path / "mask.png")
    run_infd(
        "sample", str(trained / "out" / "checkpoint"), "--out", str(tmp_path / "o.ome.zarr"),
        "--set", f"config.sampling.inpaint={{image: {tmp_path}/image.png, mask: {tmp_path}/mask.png}}",
        expect=2,
    )  # fmt: skip
    assert not (tmp_path / "o.ome.zarr").exists()


def test_several_samples_into_one_store(trained, tmp_path):
    run_infd(
        "sample",
        str(trained / "out" / "checkpoint"),
        "--num",
        "2",
        "--out",
        str(tmp_path / "o.zarr"),
        expect=2,
    )


def test_sizes_beyond_the_machine_are_refused_before_any_work(trained, tmp_path, capsys):
    """100000² asks for terabytes: out of core its memory stays within the budget, but its state and
    image need terabytes of disk: one line naming the estimates, exit 2, nothing written."""
    out = tmp_path / "big.ome.zarr"
    ckpt = str(trained / "out" / "checkpoint")
    run_infd("sample", ckpt, "--size", "100000x100000", "--out", str(out), expect=2)
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "3×100000×100000 (out of core) needs about" in err and "GiB of memory" in err
    assert "TiB of disk" in err and "more than the disk" in err
    assert "--force" in err and not out.exists()
