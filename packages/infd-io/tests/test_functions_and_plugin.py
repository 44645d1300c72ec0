from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

import infd_io.plugin
from infd_core.errors import UsageError
from infd_core.plugins import InfdPluginManager
from infd_io.functions import FunctionDataset
from infd_io.photos import PHOTO_NAMES
from infd_io.writer import TiledWriter


def test_npz_with_shared_and_per_curve_coordinates(tmp_path: Path) -> None:
    x = np.linspace(0, 1, 50, dtype=np.float32)
    y = np.sin(np.arange(4)[:, None] + 6 * x[None, :]).astype(np.float32)
    np.savez(tmp_path / "shared.npz", x=x, y=y, z=2 * y)
    dataset = FunctionDataset(str(tmp_path / "shared.npz"), y_keys=["y", "z"])
    assert len(dataset) == 4
    item = dataset[2]
    assert item["coords"].shape == (50, 1) and item["values"].shape == (50, 2)
    torch.testing.assert_close(item["coords"][:, 0], torch.from_numpy(x))
    torch.testing.assert_close(item["values"][:, 1], torch.from_numpy(2 * y[2]))

    xs = np.sort(np.random.default_rng(0).random((3, 20)), axis=1)
    np.savez(tmp_path / "own.npz", t=xs, u=xs**2)
    item = FunctionDataset(str(tmp_path / "own.npz"), x_key="t", y_keys=["u"])[1]
    torch.testing.assert_close(item["values"][:, 0], item["coords"][:, 0] ** 2)


def test_csv_curves_of_different_lengths(tmp_path: Path) -> None:
    rows = ["curve,x,y"] + [f"b,{k / 10},{k}" for k in range(5)] + [f"a,{k / 4},{-k}" for k in range(3)]
    (tmp_path / "curves.csv").write_text("\n".join(rows) + "\n")
    dataset = FunctionDataset(str(tmp_path / "curves.csv"))
    assert len(dataset) == 2
    assert dataset[0]["coords"].shape == (5, 1) and dataset[1]["values"][:, 0].tolist() == [0.0, -1.0, -2.0]


def test_function_files_that_cannot_be_used(tmp_path: Path) -> None:
    np.savez(tmp_path / "objects.npz", x=np.array([1, "a"], dtype=object), y=np.zeros((1, 2)))
    with pytest.raises(UsageError, match="not a readable NPZ"):
        FunctionDataset(str(tmp_path / "objects.npz"))  # pickled arrays are never loaded
    np.savez(tmp_path / "keys.npz", x=np.zeros(3), v=np.zeros((2, 3)))
    with pytest.raises(UsageError, match="no array 'y'"):
        FunctionDataset(str(tmp_path / "keys.npz"))
    (tmp_path / "bad.csv").write_text("curve,x,y\na,0,1\na,zero,2\n")
    with pytest.raises(UsageError, match="line 3"):
        FunctionDataset(str(tmp_path / "bad.csv"))
    (tmp_path / "cols.csv").write_text("id,x,y\n")
    with pytest.raises(UsageError, match=r"missing CSV column\(s\) \['curve'\]"):
        FunctionDataset(str(tmp_path / "cols.csv"))
    with pytest.raises(UsageError, match=r"\.npz or \.csv"):
        FunctionDataset(str(tmp_path / "curves.json"))


@pytest.fixture
def registry():  # type: ignore[no-untyped-def]
    manager = InfdPluginManager(load_entry_points=False)
    manager.register(infd_io.plugin, name="io", distribution="infd-io")
    return manager.registry()


def test_registered_components_build_from_their_configs(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert registry.names("datasets") == [
        "builtin-photos", "cifar10-binary", "coordinate-subsample", "function-curves", "image-folder",
        "multiscale-patches", "pcam-hdf5",
    ]  # fmt: skip
    photos = registry.get("datasets", "builtin-photos").build({"resolution": 16, "num_items": 3})
    assert len(photos) == 3 and photos[0]["image"].shape == (3, 16, 16)
    subsample = registry.get("datasets", "coordinate-subsample").build(
        {"rate": 0.5, "images": {"kind": "builtin", "resolution": 8, "num_items": 2}}
    )
    assert subsample[1]["coords"].shape == (32, 2)
    patches = registry.get("datasets", "multiscale-patches").build(
        {"patch_size": 16, "images": {"kind": "builtin", "resolution": 40, "num_items": 2}}
    )
    assert patches[0]["patch"].shape == (3, 16, 16)
    writer = registry.get("writers", "ome-zarr").build(
        {"chunks": 32, "tile_size": 64}, url=str(tmp_path / "w.zarr"), shape=(3, 100, 100)
    )
    assert isinstance(writer, TiledWriter) and writer.layout.tile_size == 64


def test_configs_forbid_unknown_keys_and_bad_values(registry) -> None:  # type: ignore[no-untyped-def]
    spec = registry.get("writers", "ome-zarr")
    with pytest.raises(ValidationError):
        spec.config_model().model_validate({"chunk": 32})
    with pytest.raises(ValidationError, match="power of two"):
        spec.config_model().model_validate({"chunks": 48})
    with pytest.raises(ValidationError):
        spec.config_model().model_validate({"dtype": "float16"})
    subsample = registry.get("datasets", "coordinate-subsample").config_model()
    with pytest.raises(ValidationError):
        subsample.model_validate({"rate": 0.0})
    with pytest.raises(ValidationError):
        subsample.model_validate({"images": {"kind": "folder"}})  # a folder needs its root


def test_listing_the_plugin_imports_neither_torch_nor_zarr() -> None:
    code = (
        "import sys, infd_io.plugin, infd_io.configs\n"
        "from infd_core.plugins import InfdPluginManager\n"
        "m = InfdPluginManager(load_entry_points=False); m.register(infd_io.plugin, name='io')\n"
        "m.registry()\n"
        "print(sorted(k for k in ('torch', 'zarr', 'PIL') if k in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_shipped_photographs_are_small_and_documented() -> None:
    folder = Path(infd_io.plugin.__file__).parent / "data" / "photos"
    files = sorted(folder.glob("*.jpg"))
    assert [f.stem for f in files] == sorted(PHOTO_NAMES)
    assert sum(f.stat().st_size for f in files) < 1_000_000
    sources = (folder / "SOURCES.md").read_text()
    assert all(f"`{name}.jpg`" in sources for name in PHOTO_NAMES)
