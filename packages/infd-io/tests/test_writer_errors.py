from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from io_helpers import pattern, store_files

from infd_core.errors import OutputError, UsageError
from infd_io import zarr_store
from infd_io.errors import TileError
from infd_io.writer import TiledWriter


@pytest.fixture
def writer(tmp_path: Path) -> TiledWriter:
    return TiledWriter(str(tmp_path / "image.zarr"), (3, 100, 100), "uint8", chunks=32, tile_size=64)


def test_tile_outside_the_image(writer: TiledWriter) -> None:
    with pytest.raises(TileError, match=r"tile \(2, 0\) is outside the 2x2 tile grid"):
        writer.write_tile((2, 0), np.zeros((3, 64, 64), np.uint8))
    with pytest.raises(TileError, match="pair of ints"):
        writer.write_tile("a", np.zeros((3, 64, 64), np.uint8))  # type: ignore[arg-type]


def test_wrong_tile_shape(writer: TiledWriter) -> None:
    with pytest.raises(TileError, match=r"must have shape \(3, 36, 64\)"):
        writer.write_tile((1, 0), np.zeros((3, 64, 64), np.uint8))  # the bottom edge tile is 36 rows
    with pytest.raises(TileError, match="must have shape"):
        writer.write_tile((0, 0), np.zeros((64, 64, 3), np.uint8))  # channels last


def test_wrong_tile_dtype_and_float16(writer: TiledWriter) -> None:
    with pytest.raises(TileError, match="dtype float64, but the store holds uint8"):
        writer.write_tile((0, 0), np.zeros((3, 64, 64)))
    with pytest.raises(TileError, match="float16"):
        writer.write_tile((0, 0), np.zeros((3, 64, 64), np.float16))
    assert writer.pending_tiles() == writer.tiles()
    assert isinstance(TileError("x"), UsageError) and isinstance(TileError("x"), ValueError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dtype": "float16"}, "float16 is not supported: OME-Zarr viewers read uint8 and float32 only"),
        ({"dtype": "float64"}, "float64 is not supported"),
        ({"dtype": "int16"}, "int16 is not supported"),
        ({"chunks": 48}, "chunks must be a power of two"),
        ({"tile_size": 16}, "tile_size must be a power of two >= chunks"),
        ({"levels": 40}, "levels must be an int in 1..8"),
        ({"ngff_version": "0.3"}, "ngff_version must be one of"),
        ({"compression": "gzip9"}, "compression must be one of"),
        ({"shape": (100, 100)}, "shape must be three positive ints"),
        ({"channel_names": ["a"]}, "channel_names has 1 names for 3 channels"),
        ({"value_range": (1.0, 0.0)}, "value_range must be"),
    ],
)
def test_bad_arguments_write_nothing(tmp_path: Path, kwargs: dict, message: str) -> None:
    url = tmp_path / "image.zarr"
    options = {"shape": (3, 100, 100), "dtype": "uint8", "chunks": 32, "tile_size": 64, **kwargs}
    shape = options.pop("shape")
    with pytest.raises(UsageError, match=message):
        TiledWriter(str(url), shape, **options)
    assert not url.exists()


def test_existing_store_with_another_shape_is_refused_and_untouched(tmp_path: Path) -> None:
    url = str(tmp_path / "image.zarr")
    first = TiledWriter(url, (3, 100, 100), "uint8", chunks=32, tile_size=64)
    first.write_tile((0, 0), pattern((0, 64), (0, 64)))
    before = store_files(url)
    with pytest.raises(OutputError, match=r"shape \(3, 100, 100\), not \(3, 200, 100\).*overwrite=True"):
        TiledWriter(url, (3, 200, 100), "uint8", chunks=32, tile_size=64)
    with pytest.raises(OutputError, match="dtype uint8, not float32"):
        TiledWriter(url, (3, 100, 100), "float32", chunks=32, tile_size=64)
    assert store_files(url) == before


def test_a_folder_that_is_not_an_infd_store_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match=r"not a zarr group|no infd tile record"):
        TiledWriter(str(folder), (3, 64, 64), "uint8", chunks=32, tile_size=64)
    assert (folder / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("where", ["under-a-file", "unknown-protocol"])
def test_unwritable_url(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    url = str(blocker / "image.zarr") if where == "under-a-file" else "nosuchprotocol://bucket/image.zarr"
    with pytest.raises(OutputError):
        TiledWriter(url, (3, 64, 64), "uint8", chunks=32, tile_size=64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_a_creation_that_fails_part_way_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = zarr_store._create_level_array

    def failing(group, level, layout):  # type: ignore[no-untyped-def]
        if level == 1:
            raise OSError(28, "No space left on device")
        return original(group, level, layout)

    monkeypatch.setattr(zarr_store, "_create_level_array", failing)
    url = tmp_path / "image.zarr"
    with pytest.raises(OutputError, match="cannot create the store: No space left on device"):
        TiledWriter(str(url), (3, 256, 256), "uint8", chunks=32, tile_size=64)
    assert not url.exists()


@pytest.mark.parametrize("cut", ["before the record", "before the record's layout"])
def test_a_creation_killed_half_way_is_made_afresh_under_its_own_record(tmp_path: Path, cut: str) -> None:
    """A kill -9 while the store was being created leaves no tile; a rerun with the same provenance
    recreates it, while one without a record (files of unknown origin) is still refused."""
    url, provenance = str(tmp_path / "image.zarr"), {"seed": 0}
    TiledWriter(url, (3, 100, 100), "uint8", chunks=32, tile_size=64, provenance=provenance)
    record = tmp_path / "image.zarr" / zarr_store.RECORD_GROUP
    if cut == "before the record":
        import shutil

        shutil.rmtree(record)
    else:  # the record's arrays were made, its layout attribute (the commit) was not
        import json

        meta = json.loads((record / "zarr.json").read_text())
        meta["attributes"] = {}
        (record / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(OutputError, match="no infd tile record"):
        TiledWriter(url, (3, 100, 100), "uint8", chunks=32, tile_size=64)  # no provenance: refused
    writer = TiledWriter(url, (3, 100, 100), "uint8", chunks=32, tile_size=64, provenance=provenance)
    assert not writer.resumed and writer.pending_tiles() == writer.tiles()
    image = pattern((0, 100), (0, 100))
    writer.write_array(image)
    writer.finalize()
    np.testing.assert_array_equal(zarr_store.open_image_store(url).levels[0][:], image)
