from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from io_helpers import pattern, reference_level
from PIL import Image

import infd_io.plugin
from infd_core.cli.main import run_cli
from infd_core.errors import UsageError
from infd_core.plugins import InfdPluginManager
from infd_io import naming, scratch
from infd_io.export import export_image, write_preview
from infd_io.writer import TiledWriter


def make_store(url: str, shape=(3, 300, 260), dtype="uint8", levels=None, complete=True) -> np.ndarray:  # type: ignore[no-untyped-def]
    writer = TiledWriter(url, shape, dtype, chunks=32, tile_size=64, levels=levels)
    tiles = writer.tiles() if complete else writer.tiles()[:3]
    for index in tiles:
        writer.write_tile(index, pattern(*writer.tile_bounds(index), channels=shape[0], dtype=dtype))
    return pattern((0, shape[1]), (0, shape[2]), channels=shape[0], dtype=dtype)


@pytest.fixture
def infd(capsys):  # type: ignore[no-untyped-def]
    manager = InfdPluginManager(load_entry_points=False)
    manager.register(infd_io.plugin, name="io", distribution="infd-io")

    def call(*argv: str) -> tuple[int, str, str]:
        status = run_cli(list(argv), manager)
        out, err = capsys.readouterr()
        return status, out, err

    return call


def test_preview_uses_the_first_level_that_fits(tmp_path: Path) -> None:
    url = str(tmp_path / "image.zarr")
    full = make_store(url)
    out = tmp_path / "preview.png"
    assert write_preview(url, str(out), max_size=150) == (150, 130)
    with Image.open(out) as image:
        assert image.mode == "RGB" and image.size == (130, 150)
        np.testing.assert_array_equal(np.moveaxis(np.asarray(image), -1, 0), reference_level(full, 1))


def test_preview_downsamples_beyond_the_last_level_in_strips(tmp_path: Path) -> None:
    url = str(tmp_path / "image.zarr")
    full = make_store(url, levels=1)
    out = tmp_path / "preview.png"
    assert write_preview(url, str(out), max_size=80) == (75, 65)
    with Image.open(out) as image:
        np.testing.assert_array_equal(np.moveaxis(np.asarray(image), -1, 0), reference_level(full, 2))


def test_float_previews_are_windowed_and_single_channels_grey(tmp_path: Path) -> None:
    url = str(tmp_path / "image.zarr")
    full = make_store(url, shape=(1, 64, 64), dtype="float32")
    out = tmp_path / "preview.png"
    write_preview(url, str(out))
    with Image.open(out) as image:
        assert image.mode == "L"
        np.testing.assert_array_equal(np.asarray(image), np.rint(full[0] * 255).astype(np.uint8))


def test_export_png_and_tiff(tmp_path: Path) -> None:
    url = str(tmp_path / "image.zarr")
    full = make_store(url)
    export_image(url, str(tmp_path / "image.png"))
    export_image(url, str(tmp_path / "level1.tif"), level=1)
    with Image.open(tmp_path / "image.png") as image:
        np.testing.assert_array_equal(np.moveaxis(np.asarray(image), -1, 0), full)
    with Image.open(tmp_path / "level1.tif") as image:
        np.testing.assert_array_equal(np.moveaxis(np.asarray(image), -1, 0), reference_level(full, 1))


def test_float_tiff_keeps_float32_pages(tmp_path: Path) -> None:
    url = str(tmp_path / "image.zarr")
    full = make_store(url, shape=(2, 70, 90), dtype="float32")
    export_image(url, str(tmp_path / "image.tiff"))
    with Image.open(tmp_path / "image.tiff") as image:
        pages = []
        for page in range(image.n_frames):
            image.seek(page)
            pages.append(np.asarray(image, dtype=np.float32))
    np.testing.assert_array_equal(np.stack(pages), full)


def test_export_refuses_large_levels_and_other_formats(tmp_path: Path) -> None:
    url = str(tmp_path / "image.zarr")
    make_store(url)
    with pytest.raises(UsageError, match="more than 1000 for export"):
        export_image(url, str(tmp_path / "x.png"), max_pixels=1000)
    with pytest.raises(UsageError, match=r"\.png, \.tif or \.tiff"):
        export_image(url, str(tmp_path / "x.jpg"))
    with pytest.raises(UsageError, match="level 9 does not exist"):
        export_image(url, str(tmp_path / "x.png"), level=9)


def test_info_command_text_and_json(tmp_path: Path, infd) -> None:  # type: ignore[no-untyped-def]
    url = str(tmp_path / "image.zarr")
    make_store(url, complete=False)
    status, out, err = infd("io", "info", url)
    assert status == 0, err
    assert "shape (3, 300, 260), uint8" in out
    assert "level 0: (3, 300, 260), chunks (3, 32, 32), shards (3, 64, 64), 3/25 tiles" in out
    assert "completion: incomplete" in out
    status, out, _ = infd("io", "info", url, "--json")
    data = json.loads(out)
    assert data["complete"] is False and len(data["levels"]) == 4 and data["tile_size"] == 64
    assert data["levels"][1]["shape"] == [3, 150, 130]


def test_info_on_a_foreign_store_and_on_nothing(tmp_path: Path, infd) -> None:  # type: ignore[no-untyped-def]
    ome_zarr = pytest.importorskip("ome_zarr.writer")
    import zarr

    url = str(tmp_path / "foreign.zarr")
    group = zarr.open_group(url, mode="w")
    ome_zarr.write_image(np.zeros((3, 64, 64), np.uint8), group, axes="cyx")
    status, out, err = infd("io", "info", url)
    assert status == 0, err
    assert "completion: unknown (no infd tile record)" in out
    status, _, err = infd("io", "info", str(tmp_path / "missing.zarr"))
    assert status == 2 and "no zarr group here" in err


def test_preview_and_export_commands(tmp_path: Path, infd) -> None:  # type: ignore[no-untyped-def]
    url = str(tmp_path / "image.zarr")
    make_store(url)
    status, out, err = infd("io", "preview", url, str(tmp_path / "p.png"), "--max-size", "100")
    assert status == 0 and "65x75" in out, err
    status, _, err = infd("io", "export", url, str(tmp_path / "e.png"), "--level", "2")
    assert status == 0, err
    assert Image.open(tmp_path / "e.png").size == (65, 75)


def test_info_reports_an_out_of_core_sample_in_progress(tmp_path: Path, infd) -> None:  # type: ignore[no-untyped-def]
    url = str(tmp_path / "sample-000.ome.zarr")
    assert naming.sampling_state_url(url) == str(tmp_path / "sample-000.state")
    scratch.ScratchStore(naming.sampling_state_url(url)).write_progress(
        {"done": 3, "steps": 50, "fingerprint": {}}
    )
    status, out, err = infd("io", "info", url)
    assert status == 0, err
    assert "sampling out of core: 3/50 steps done" in out and "--resume" in out
    status, out, _ = infd("io", "info", naming.sampling_state_url(url), "--json")
    assert status == 0 and json.loads(out)["sampling"]["done"] == 3
