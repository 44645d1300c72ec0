"""GUD trains through ``infd run`` on CIFAR-10 binary batches and PCam HDF5 files written here; the fitted
data mean is checked against the records' known pixels, and bad files end the run with one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from gud_helpers import tiny_config

from infd_core.checkpoints import load_checkpoint
from infd_core.cli.main import run_cli

FAST = {"training": {"steps": 2, "batch_size": 2}, "likelihood": {"enabled": False}}
CAT, COLOUR = 3, (200, 100, 50)  # every cat record is this flat colour; the others are noise


def write_cifar(path, labels, seed=0) -> None:  # type: ignore[no-untyped-def]
    """CIFAR-10 binary records: 1 label byte, then the R, G and B 32×32 planes."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as handle:
        for label in labels:
            planes = rng.integers(0, 256, (3, 32, 32), dtype=np.uint8)
            if label == CAT:
                planes[:] = np.array(COLOUR, np.uint8)[:, None, None]
            handle.write(bytes([label]) + planes.tobytes())


def run(tmp_path, data: dict, name: str = "run") -> int:  # type: ignore[no-untyped-def]
    config = tiny_config(data={"resolution": 16, "num_items": 16, "fit_items": 16, **data}, **FAST)
    run_config = {"pipeline": "gud", "output": str(tmp_path / name), "seed": 0,
                  "sample": {"num_samples": 1}, "config": config}  # fmt: skip
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(run_config))
    return run_cli(["run", str(path)])


def expected_mean(colour: tuple[int, int, int]) -> torch.Tensor:
    return torch.tensor(colour, dtype=torch.float32).view(3, 1, 1).expand(3, 16, 16) / 127.5 - 1.0


def test_cifar10_binary_batches_train_gud(tmp_path) -> None:
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    write_cifar(folder / "data_batch_1.bin", [CAT, 0, CAT, 7, CAT, CAT, 9, CAT])
    write_cifar(folder / "data_batch_2.bin", [CAT, 1, CAT, CAT, 2, CAT], seed=1)
    assert run(tmp_path, {"source": str(folder), "classes": ["cat"], "holdout": 2}) == 0
    checkpoint = load_checkpoint(str(tmp_path / "run" / "checkpoint"))
    # the 32² records, resized to 16², only cats: the fitted mean is their flat colour
    torch.testing.assert_close(
        checkpoint.state("space")["mean"].float(), expected_mean(COLOUR), atol=1e-5, rtol=0
    )
    assert (tmp_path / "run" / "samples" / "sample_0000.png").exists()


def test_pcam_hdf5_files_train_gud(tmp_path) -> None:
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    labels = np.array([1, 0, 1, 1, 0, 1, 1, 1], np.uint8)
    patches = rng.integers(0, 256, (8, 96, 96, 3), dtype=np.uint8)
    patches[labels == 1] = np.array(COLOUR, np.uint8)
    x_path = tmp_path / "camelyonpatch_level_2_split_valid_x.h5"
    with h5py.File(x_path, "w") as handle:
        handle.create_dataset("x", data=patches)
    with h5py.File(tmp_path / "camelyonpatch_level_2_split_valid_y.h5", "w") as handle:
        handle.create_dataset("y", data=labels.reshape(-1, 1, 1, 1))
    assert run(tmp_path, {"source": str(x_path), "classes": [1], "holdout": 1}) == 0
    mean = load_checkpoint(str(tmp_path / "run" / "checkpoint")).state("space")["mean"].float()
    torch.testing.assert_close(mean, expected_mean(COLOUR), atol=1e-5, rtol=0)


def test_bad_files_end_the_run_with_one_line(tmp_path, capsys) -> None:
    h5py = pytest.importorskip("h5py")
    good = tmp_path / "data_batch_1.bin"
    write_cifar(good, [CAT] * 6)
    truncated = tmp_path / "data_batch_9.bin"
    truncated.write_bytes(good.read_bytes()[:-100])
    wrong = tmp_path / "cifar100.bin"
    wrong.write_bytes(bytes([CAT, 80]) + bytes(3072))  # a CIFAR-100 record: 2 label bytes
    half = tmp_path / "half_x.h5"
    with h5py.File(tmp_path / "full_x.h5", "w") as handle:
        handle.create_dataset("x", data=np.zeros((4, 96, 96, 3), np.uint8))
    half.write_bytes((tmp_path / "full_x.h5").read_bytes()[:1000])
    cases = [(truncated, "not a whole number of CIFAR-10 records"), (wrong, "not a whole number"),
             (half, "not a readable HDF5 file"), (tmp_path / "missing.h5", "no such file")]  # fmt: skip
    for number, (path, message) in enumerate(cases):
        capsys.readouterr()
        assert run(tmp_path, {"source": str(path)}, name=f"bad{number}") == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err and "Traceback" not in err, err
    assert run(tmp_path, {"source": str(good), "classes": ["cat"], "holdout": 6}, name="few") == 2
    assert "holds 6 usable images: need more than data.holdout = 6" in capsys.readouterr().err
