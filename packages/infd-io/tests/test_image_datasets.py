from __future__ import annotations

import io
from pathlib import Path

import fsspec
import numpy as np
import pytest
import torch
from PIL import Image

from infd_core.errors import UsageError
from infd_io.coordinates import pixel_centres
from infd_io.errors import SkippedFilesWarning
from infd_io.image_folder import ImageFolderDataset
from infd_io.patches import MultiScalePatchDataset
from infd_io.photos import BuiltinPhotos
from infd_io.subsample import CoordinateSubsampleDataset


def rgb(height: int, width: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def encoded(array: np.ndarray, fmt: str, **options) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Mixed formats and resolutions, plus files that must be skipped."""
    root = tmp_path / "images"
    (root / "nested").mkdir(parents=True)
    (root / "a.png").write_bytes(encoded(rgb(30, 40, 0), "PNG"))
    (root / "b.jpg").write_bytes(encoded(rgb(48, 64, 1), "JPEG", quality=95))
    (root / "nested" / "c.webp").write_bytes(encoded(rgb(32, 32, 2), "WEBP", lossless=True))
    grey16 = (np.arange(20 * 25, dtype=np.uint16).reshape(20, 25) * 131).astype(np.uint16)
    (root / "nested" / "d.tif").write_bytes(encoded(grey16, "TIFF"))
    rgba = np.dstack([rgb(10, 12, 3), np.full((10, 12), 128, np.uint8)])
    (root / "e.png").write_bytes(encoded(rgba, "PNG"))
    # to skip: a text file, a truncated PNG, random bytes named .jpg, a truncated JPEG (fails on decode)
    (root / "notes.txt").write_text("not an image")
    png = encoded(rgb(30, 30, 4), "PNG")
    (root / "broken.png").write_bytes(png[: len(png) // 2])
    (root / "noise.jpg").write_bytes(np.random.default_rng(5).bytes(500))
    jpeg = encoded(rgb(30, 30, 6), "JPEG")
    (root / "z_truncated.jpg").write_bytes(jpeg[:-100])
    (root / ".hidden.png").write_bytes(png)  # hidden files are ignored, not counted
    return root


def test_mixed_folder_skips_and_counts_bad_files(folder: Path) -> None:
    with pytest.warns(SkippedFilesWarning, match=r"skipped 3 file\(s\)"):
        dataset = ImageFolderDataset(str(folder))
    names = [Path(p).name for p in dataset.files]
    assert names == ["a.png", "b.jpg", "e.png", "c.webp", "d.tif", "z_truncated.jpg"]
    assert dataset.sizes == [(30, 40), (48, 64), (10, 12), (32, 32), (20, 25), (30, 30)]
    assert sorted(Path(p).name for p, _ in dataset.skipped) == ["broken.png", "noise.jpg", "notes.txt"]

    first = dataset[0]
    assert first["image"].shape == (3, 30, 40) and first["image"].dtype == torch.float32
    expected = torch.from_numpy(rgb(30, 40, 0)).permute(2, 0, 1).float() / 255 * 2 - 1
    torch.testing.assert_close(first["image"], expected)
    webp = dataset[3]["image"]
    torch.testing.assert_close(webp, torch.from_numpy(rgb(32, 32, 2)).permute(2, 0, 1).float() / 255 * 2 - 1)
    tiff = dataset[4]["image"]
    grey16 = (np.arange(20 * 25).reshape(20, 25) * 131 % 65536) / 65535.0
    assert tiff.shape == (3, 20, 25)
    torch.testing.assert_close(tiff[1], torch.from_numpy(grey16 * 2 - 1).float())
    assert dataset[2]["image"].shape == (3, 10, 12)  # alpha dropped


def test_a_file_that_fails_only_on_decode_is_skipped_then(folder: Path) -> None:
    with pytest.warns(SkippedFilesWarning):
        dataset = ImageFolderDataset(str(folder), channels=1, value_range=(0.0, 1.0))
    with pytest.warns(SkippedFilesWarning, match="z_truncated.jpg"):
        item = dataset[5]
    assert Path(item["path"]).name == "a.png"  # the next readable image stands in
    assert item["image"].shape == (1, 30, 40) and float(item["image"].min()) >= 0.0
    assert len(dataset.skipped) == 4


def test_fsspec_folder_and_empty_or_missing_folders(folder: Path, tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/infd-io-images/x.png", (folder / "a.png").read_bytes())
    dataset = ImageFolderDataset("memory://infd-io-images")
    assert len(dataset) == 1 and dataset[0]["image"].shape == (3, 30, 40)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no readable images"):
        ImageFolderDataset(str(tmp_path / "empty"))
    with pytest.raises(UsageError, match="no such folder"):
        ImageFolderDataset(str(tmp_path / "missing"))


def test_coordinate_subsampling_returns_the_chosen_pixels() -> None:
    photos = BuiltinPhotos(resolution=32, num_items=6)
    dataset = CoordinateSubsampleDataset(photos, rate=0.25, seed=3, include_image=True)
    item = dataset[2]
    assert item["coords"].shape == (256, 2) and item["values"].shape == (256, 3)
    assert item["size"].tolist() == [32, 32]
    indices = item["indices"]
    assert len(set(indices.tolist())) == 256 and torch.all(indices[1:] > indices[:-1])
    rows = torch.round((item["coords"][:, 0] + 1) / 2 * 32 - 0.5).long()
    cols = torch.round((item["coords"][:, 1] + 1) / 2 * 32 - 0.5).long()
    assert torch.equal(rows * 32 + cols, indices)
    torch.testing.assert_close(item["values"], item["image"][:, rows, cols].T)
    # the subset depends only on (seed, index, epoch)
    again = CoordinateSubsampleDataset(BuiltinPhotos(resolution=32, num_items=6), rate=0.25, seed=3)
    _ = again[5]
    assert torch.equal(again[2]["indices"], indices)
    assert not torch.equal(dataset[3]["indices"], indices)
    dataset.set_epoch(1)
    assert not torch.equal(dataset[2]["indices"], indices)
    full = CoordinateSubsampleDataset(photos, rate=1.0)[0]
    assert torch.equal(full["indices"], torch.arange(32 * 32))
    torch.testing.assert_close(full["coords"].reshape(32, 32, 2), pixel_centres(32, 32))


def ramp_folder(tmp_path: Path, height: int = 240, width: int = 360) -> Path:
    """One smooth image: a linear ramp in y and x (resampling filters preserve it away from borders)."""
    y = np.linspace(0.1, 0.6, height)[:, None]
    x = np.linspace(0.0, 0.35, width)[None, :]
    ramp = np.stack([y + x, y + 0 * x, 0 * y + x + 0.2], axis=-1)
    root = tmp_path / "ramp"
    root.mkdir()
    (root / "ramp.tif").write_bytes(encoded(np.round(ramp * 65535)[..., 0].astype(np.uint16), "TIFF"))
    return root


def test_multiscale_patches_have_whole_image_coordinates(tmp_path: Path) -> None:
    images = ImageFolderDataset(str(ramp_folder(tmp_path)), channels=1)
    dataset = MultiScalePatchDataset(images, patch_size=32, seed=0)
    scales = []
    for epoch in range(6):
        dataset.set_epoch(epoch)
        item = dataset[0]
        top, left, rh, rw = item["crop"].tolist()
        assert item["patch"].shape == (1, 32, 32) and item["coords"].shape == (32, 32, 2)
        assert rh == round(240 * float(item["scale"])) and 32 <= min(rh, rw) <= 240
        # the patch covers [top / rh, (top + P) / rh] x [left / rw, (left + P) / rw], mapped to [-1, 1]
        cells = item["cells"]
        torch.testing.assert_close(cells[0, 0], torch.tensor([2 / rh, 2 / rw]))
        first, last = item["coords"][0, 0] - cells[0, 0] / 2, item["coords"][-1, -1] + cells[0, 0] / 2
        torch.testing.assert_close(first, torch.tensor([top / rh * 2 - 1, left / rw * 2 - 1]))
        torch.testing.assert_close(last, torch.tensor([(top + 32) / rh * 2 - 1, (left + 32) / rw * 2 - 1]))
        # values: the ramp evaluated at the patch's coordinates (pixel centres of the native image)
        y_native = (item["coords"][..., 0] + 1) / 2 * 240 - 0.5
        x_native = (item["coords"][..., 1] + 1) / 2 * 360 - 0.5
        expected = 0.1 + 0.5 * y_native / 239 + 0.35 * x_native / 359
        interior = (y_native > 8) & (y_native < 231) & (x_native > 8) & (x_native < 351)
        got = (item["patch"][0] + 1) / 2
        assert torch.allclose(got[interior], expected[interior].float(), atol=3e-3)
        scales.append(float(item["scale"]))
    assert len(set(scales)) > 1 and all(32 / 240 <= s <= 1 for s in scales)


def test_native_scale_patches_are_exact_crops(tmp_path: Path) -> None:
    images = ImageFolderDataset(str(ramp_folder(tmp_path)), channels=1)
    dataset = MultiScalePatchDataset(images, patch_size=48, min_size=240, max_size=240, seed=4)
    item = dataset[0]
    top, left, rh, rw = item["crop"].tolist()
    assert (rh, rw) == (240, 360) and float(item["scale"]) == 1.0
    torch.testing.assert_close(item["patch"], images[0]["image"][:, top : top + 48, left : left + 48])
    with pytest.raises(UsageError):
        MultiScalePatchDataset(images, patch_size=48, min_size=32)


def test_builtin_photos_offer_seeded_crops_at_any_resolution() -> None:
    photos = BuiltinPhotos(resolution=64, num_items=10, seed=1)
    item = photos[3]
    assert item["image"].shape == (3, 64, 64)
    assert float(item["image"].min()) >= -1.0 and float(item["image"].max()) <= 1.0
    assert float(item["image"].std()) > 0.05  # a real photograph, not a flat colour
    top, left, side = item["crop"].tolist()
    source = photos.photo(item["photo"])
    assert 0.25 * min(source.shape[1:]) <= side <= min(source.shape[1:])
    assert top + side <= source.shape[1] and left + side <= source.shape[2]
    assert torch.equal(BuiltinPhotos(resolution=64, num_items=10, seed=1)[3]["image"], item["image"])
    assert not torch.equal(BuiltinPhotos(resolution=64, num_items=10, seed=2)[3]["image"], item["image"])
    photos.set_epoch(1)
    assert not torch.equal(photos[3]["image"], item["image"])
    grey = BuiltinPhotos(resolution=32, num_items=2, channels=1, photos=["coffee"])
    assert grey[1]["image"].shape == (1, 32, 32) and grey[1]["photo"] == "coffee"
    with pytest.raises(UsageError, match="unknown photos"):
        BuiltinPhotos(photos=["lena"])
