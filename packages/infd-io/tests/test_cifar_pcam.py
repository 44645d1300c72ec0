"""CIFAR-10 binary batches and PCam HDF5 files: records written here, read back and compared pixel by
pixel with an independent NumPy/PIL decoding; wrong and truncated files give one-line usage errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infd_core.errors import UsageError
from infd_io.cifar10 import Cifar10Binary
from infd_io.image_folder import ImageFolderDataset
from infd_io.patches import MultiScalePatchDataset
from infd_io.pcam import PCamHDF5
from infd_io.sources import build_image_source

h5py = pytest.importorskip("h5py")


def write_cifar(path: Path, labels: list[int], seed: int) -> np.ndarray:
    """Records label + R plane + G plane + B plane, as the CIFAR-10 binary version; returns HWC pixels."""
    pixels = np.random.default_rng(seed).integers(0, 256, (len(labels), 32, 32, 3), dtype=np.uint8)
    with path.open("wb") as handle:
        for label, image in zip(labels, pixels, strict=True):
            handle.write(bytes([label]))
            for channel in range(3):
                handle.write(image[:, :, channel].tobytes())
    return pixels


def test_cifar_records_decode_to_their_pixels_and_labels(tmp_path: Path) -> None:
    first = write_cifar(tmp_path / "data_batch_1.bin", [3, 0, 9], seed=0)
    second = write_cifar(tmp_path / "data_batch_2.bin", [5, 1], seed=1)
    (tmp_path / "test_batch.bin").write_bytes(b"x")  # not a data_batch: a folder source ignores it
    data = Cifar10Binary(str(tmp_path), value_range=(0.0, 1.0))
    assert len(data) == 5 and data.labels.tolist() == [3, 0, 9, 5, 1]
    expected = np.concatenate([first, second])
    for i in range(5):
        item = data[i]
        assert item["label"] == data.labels[i] and item["image"].shape == (3, 32, 32)
        got = (item["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        np.testing.assert_array_equal(got, expected[i])
    grey = Cifar10Binary(str(tmp_path / "data_batch_1.bin"), channels=1, value_range=(0.0, 1.0))[1]
    pil = np.asarray(Image.fromarray(first[1]).convert("L"), dtype=np.float32)
    assert np.abs(grey["image"][0].numpy() * 255 - pil).max() <= 1.0  # PIL rounds its luma


@pytest.mark.parametrize(
    ("payload", "message"),
    [(b"\x00" * 3000, "not a whole number of CIFAR-10 records"), (b"\x0c" + b"\x00" * 3072, "label byte 12")],
)
def test_wrong_or_truncated_cifar_files_are_refused(tmp_path: Path, payload: bytes, message: str) -> None:
    write_cifar(tmp_path / "good.bin", [1, 2], seed=0)
    truncated = (tmp_path / "good.bin").read_bytes()[:-10]
    for content, text in ((payload, message), (truncated, "truncated")):
        path = tmp_path / "bad.bin"
        path.write_bytes(content)
        with pytest.raises(UsageError, match=text) as info:
            Cifar10Binary(str(path))
        assert "\n" not in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no data_batch"):
        Cifar10Binary(str(tmp_path / "empty"))


def write_pcam(
    folder: Path, count: int, side: int = 96, seed: int = 0
) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (count, side, side, 3), dtype=np.uint8)
    y = rng.integers(0, 2, (count, 1, 1, 1), dtype=np.uint8)
    x_path = folder / "camelyonpatch_level_2_split_valid_x.h5"
    with h5py.File(x_path, "w") as handle:
        handle.create_dataset("x", data=x, chunks=(1, side, side, 3), compression="gzip")
    with h5py.File(folder / "camelyonpatch_level_2_split_valid_y.h5", "w") as handle:
        handle.create_dataset("y", data=y)
    return x_path, x, y.reshape(-1)


def test_pcam_patches_and_labels(tmp_path: Path) -> None:
    x_path, x, y = write_pcam(tmp_path, 4)
    data = build_image_source(_config("pcam-hdf5", x=str(x_path), value_range=(0.0, 1.0)))
    assert isinstance(data, PCamHDF5) and len(data) == 4 and data.labels.tolist() == y.tolist()
    for i in range(4):
        got = (data[i]["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        np.testing.assert_array_equal(got, x[i])
        assert data[i]["label"] == y[i]
    # resized to 32² as the GUD paper's PCam: equal to an antialiased resize done here
    patches = MultiScalePatchDataset(data, 32, 32, 32, value_range=(0.0, 1.0))
    reference = torch.nn.functional.interpolate(
        torch.from_numpy(x[2]).permute(2, 0, 1)[None].float() / 255, size=(32, 32), mode="bicubic",
        antialias=True, align_corners=False,
    )[0].clamp(0, 1)  # fmt: skip
    torch.testing.assert_close(patches[2]["patch"], reference, atol=1e-5, rtol=0)


def test_wrong_or_truncated_pcam_files_are_refused(tmp_path: Path) -> None:
    x_path, _, _ = write_pcam(tmp_path, 3)
    truncated = tmp_path / "truncated_x.h5"
    truncated.write_bytes(x_path.read_bytes()[: x_path.stat().st_size // 2])
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle.create_dataset("images", data=np.zeros((2, 8, 8, 3), np.uint8))
    floats = tmp_path / "floats_x.h5"
    with h5py.File(floats, "w") as handle:
        handle.create_dataset("x", data=np.zeros((2, 8, 8, 3), np.float32))
    cases = [
        (truncated, "truncated"), (other, "no dataset 'x'"), (floats, "uint8"),
        (tmp_path / "missing_x.h5", "no such file"),
        (tmp_path / "camelyonpatch_level_2_split_valid_y.h5", "no dataset 'x'"),
    ]  # fmt: skip
    for path, message in cases:
        with pytest.raises(UsageError, match=message) as info:
            PCamHDF5(str(path))
        assert "\n" not in str(info.value)
    bad_labels = tmp_path / "bad_y.h5"
    with h5py.File(bad_labels, "w") as handle:
        handle.create_dataset("y", data=np.zeros((5, 1, 1, 1), np.uint8))
    with pytest.raises(UsageError, match=r"expected \(3, 1, 1, 1\)"):
        PCamHDF5(str(x_path), str(bad_labels))


def test_folder_labels_come_from_sub_folders(tmp_path: Path) -> None:
    for name, folder in (("a.png", "cats"), ("b.png", "dogs"), ("c.png", "cats"), ("d.png", None)):
        target = tmp_path / folder if folder else tmp_path
        target.mkdir(exist_ok=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(target / name)
    data = ImageFolderDataset(str(tmp_path))
    assert data.classes == ("cats", "dogs")
    by_file = {Path(data[i]["path"]).name: data[i]["label"] for i in range(len(data))}
    assert by_file == {"a.png": 0, "c.png": 0, "b.png": 1, "d.png": -1}


def _config(kind: str, **fields):  # type: ignore[no-untyped-def]
    from pydantic import TypeAdapter

    from infd_io.configs import ImageSourceConfig

    return TypeAdapter(ImageSourceConfig).validate_python({"kind": kind, **fields})
