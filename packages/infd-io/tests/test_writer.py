from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import zarr
from io_helpers import pattern, reference_level, store_files

from infd_core.events import ProgressEvent, TileWrittenEvent
from infd_io.store_info import read_region, store_info
from infd_io.writer import TiledWriter


def write_all(writer: TiledWriter, dtype: str = "uint8", order: list | None = None) -> None:
    channels = writer.shape[0]
    for index in order if order is not None else writer.tiles():
        rows, cols = writer.tile_bounds(index)
        writer.write_tile(index, pattern(rows, cols, channels, dtype))


@pytest.mark.parametrize(
    ("ngff", "dtype", "shape"),
    [("0.5", "uint8", (3, 520, 390)), ("0.4", "uint8", (3, 300, 513)), ("0.5", "float32", (1, 257, 200))],
)
def test_every_level_reads_back_the_independent_pyramid(
    tmp_path: Path, ngff: str, dtype: str, shape: tuple[int, int, int]
) -> None:
    url = str(tmp_path / "image.zarr")
    writer = TiledWriter(url, shape, dtype, chunks=32, levels=4, tile_size=64, ngff_version=ngff)
    order = writer.tiles()
    random.Random(3).shuffle(order)  # any order
    write_all(writer, dtype, order)
    assert writer.finalize()
    full = pattern((0, shape[1]), (0, shape[2]), shape[0], dtype)
    assert writer.levels == 4
    for level in range(writer.levels):
        expected = reference_level(full, level)
        np.testing.assert_array_equal(read_region(url, level), expected)
        # and a region that straddles tiles
        h, w = expected.shape[1:]
        rows, cols = (h // 3, h - 1), (w // 5, w // 5 + max(1, w // 2))
        np.testing.assert_array_equal(
            read_region(url, level, rows, cols), expected[:, rows[0] : rows[1], cols[0] : cols[1]]
        )


def test_store_layout_is_viewer_friendly(tmp_path: Path) -> None:
    url = str(tmp_path / "image.zarr")
    write_all(TiledWriter(url, (3, 300, 300), "uint8", chunks=32, tile_size=128, levels=3))
    group = zarr.open_group(url, mode="r")
    for level in range(3):
        array = group[str(level)]
        assert array.chunks == (3, 32, 32)  # square power-of-two chunks
        assert array.shards == (3, 128, 128)  # one shard per tile at every level
        assert array.metadata.dimension_names == ("c", "y", "x")
        assert array.dtype == np.uint8
    # one shard file per tile at level 0: 3 x 3 tiles
    shard_files = sorted(p for p in (tmp_path / "image.zarr" / "0" / "c").rglob("*") if p.is_file())
    assert len(shard_files) == 9


def test_ngff_04_uses_zarr_v2_with_slash_separator(tmp_path: Path) -> None:
    url = tmp_path / "image.zarr"
    write_all(TiledWriter(str(url), (3, 100, 100), "uint8", chunks=32, tile_size=64, ngff_version="0.4"))
    zarray = json.loads((url / "0" / ".zarray").read_text())
    assert zarray["dimension_separator"] == "/" and zarray["chunks"] == [3, 32, 32]
    zattrs = json.loads((url / ".zattrs").read_text())
    assert zattrs["multiscales"][0]["version"] == "0.4"
    assert [c["color"] for c in zattrs["omero"]["channels"]] == ["FF0000", "00FF00", "0000FF"]


def test_metadata_is_written_before_any_tile(tmp_path: Path) -> None:
    url = str(tmp_path / "image.zarr")
    writer = TiledWriter(url, (3, 256, 256), "uint8", chunks=32, tile_size=64)
    info = store_info(url)  # a viewer can open it now
    assert [level.shape for level in info.levels] == [(3, 256, 256), (3, 128, 128), (3, 64, 64)]
    assert all(level.tiles_done == 0 for level in info.levels)
    np.testing.assert_array_equal(read_region(url, 0), 0)
    writer.write_tile((1, 2), pattern((64, 128), (128, 192)))
    region = read_region(url, 0)
    np.testing.assert_array_equal(region[:, 64:128, 128:192], pattern((64, 128), (128, 192)))
    assert region[:, :64].sum() == 0
    assert store_info(url).levels[0].tiles_done == 1


def test_events_progress_and_skipping_completed_tiles(tmp_path: Path) -> None:
    events: list[TileWrittenEvent] = []
    progress: list[ProgressEvent] = []
    url = str(tmp_path / "image.zarr")
    writer = TiledWriter(
        url,
        (3, 128, 128),
        "uint8",
        chunks=32,
        tile_size=64,
        on_tile_written=events.append,
        progress=progress.append,
    )
    write_all(writer)
    assert [e.index for e in events if e.level == 0] == writer.tiles()
    assert sorted((e.level, e.index) for e in events if e.level > 0) == [(1, (0, 0))]
    assert events[-1].bounds == ((0, 64), (0, 64)) and events[-1].url == url
    assert [p.step for p in progress] == [1, 2, 3, 4] and progress[-1].total == 4
    assert writer.write_tile((0, 0), pattern((0, 64), (0, 64))) is False  # already complete
    assert len(events) == 5
    assert writer.pending_tiles() == [] and writer.is_finished()


def test_accepts_torch_tensors_and_float32_window(tmp_path: Path) -> None:
    url = str(tmp_path / "image.zarr")
    writer = TiledWriter(url, (2, 64, 64), "float32", chunks=32, tile_size=64, value_range=(-1.0, 1.0))
    tile = torch.linspace(-1, 1, 2 * 64 * 64).reshape(2, 64, 64)
    writer.write_tile((0, 0), tile)
    np.testing.assert_array_equal(read_region(url, 0), tile.numpy())
    attrs = zarr.open_group(url, mode="r").attrs.asdict()
    window = attrs["ome"]["omero"]["channels"][0]["window"]
    assert (window["start"], window["end"]) == (-1.0, 1.0)


def test_reopening_resumes_and_open_reads_the_layout(tmp_path: Path) -> None:
    url = str(tmp_path / "image.zarr")
    first = TiledWriter(url, (3, 200, 200), "uint8", chunks=32, tile_size=64)
    for index in first.tiles()[:5]:
        first.write_tile(index, pattern(*first.tile_bounds(index)))
    again = TiledWriter.open(url)
    assert again.resumed and again.layout == first.layout
    assert again.pending_tiles() == first.tiles()[5:]
    write_all(again)
    assert again.finalize()
    np.testing.assert_array_equal(read_region(url, 0), pattern((0, 200), (0, 200)))


def test_overwrite_replaces_a_store_of_another_shape(tmp_path: Path) -> None:
    url = str(tmp_path / "image.zarr")
    write_all(TiledWriter(url, (3, 64, 64), "uint8", chunks=32, tile_size=64))
    writer = TiledWriter(url, (3, 128, 64), "uint8", chunks=32, tile_size=64, overwrite=True)
    assert not writer.resumed and writer.pending_tiles() == [(0, 0), (1, 0)]
    assert read_region(url, 0).shape == (3, 128, 64)


def test_fsspec_memory_url(tmp_path: Path) -> None:
    url = "memory://infd-io-test/image.zarr"
    with TiledWriter(url, (3, 100, 70), "uint8", chunks=32, tile_size=64) as writer:
        write_all(writer)
    np.testing.assert_array_equal(read_region(url, 1), reference_level(pattern((0, 100), (0, 70)), 1))
    assert store_info(url).complete


@pytest.mark.parametrize("cache_tiles", [0.0, 0.3])
def test_small_or_no_tile_cache_gives_the_same_bytes(tmp_path: Path, cache_tiles: float) -> None:
    stores = []
    for name, cache in (("cached", 8.0), ("small", cache_tiles)):
        url = str(tmp_path / name / "image.zarr")  # the same store name: the metadata names the image
        writer = TiledWriter(url, (3, 300, 260), "uint8", chunks=32, tile_size=64, cache_tiles=cache)
        order = writer.tiles()
        random.Random(5).shuffle(order)
        write_all(writer, order=order)
        assert writer.finalize()
        stores.append(store_files(url))
    assert stores[0] == stores[1]


def test_write_array_stores_an_in_memory_image_at_every_level(tmp_path: Path) -> None:
    shape = (3, 150, 97)  # not a multiple of the tile size
    full = pattern((0, shape[1]), (0, shape[2]), shape[0], "uint8")
    url = str(tmp_path / "array.zarr")
    writer = TiledWriter(url, shape, "uint8", chunks=32, levels=3, tile_size=64)
    assert writer.write_array(full)
    for level in range(3):
        np.testing.assert_array_equal(read_region(url, level), reference_level(full, level))
