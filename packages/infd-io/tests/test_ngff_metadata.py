from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from io_helpers import ngff_validator, pattern, reference_level

from infd_io.ngff import image_attributes
from infd_io.writer import TiledWriter


def write_small_store(url: str, version: str, dtype: str = "uint8") -> np.ndarray:
    writer = TiledWriter(
        url, (3, 150, 200), dtype, chunks=32, tile_size=64, ngff_version=version, name="demo"
    )
    for index in writer.tiles():
        writer.write_tile(index, pattern(*writer.tile_bounds(index), dtype=dtype))
    assert writer.finalize()
    return pattern((0, 150), (0, 200), dtype=dtype)


def group_attributes(root: Path, version: str) -> dict:
    if version == "0.5":
        return json.loads((root / "zarr.json").read_text())["attributes"]
    return json.loads((root / ".zattrs").read_text())


@pytest.mark.parametrize("version", ["0.5", "0.4"])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_group_metadata_validates_against_the_ngff_schema(tmp_path: Path, version: str, dtype: str) -> None:
    root = tmp_path / "image.zarr"
    write_small_store(str(root), version, dtype)
    attributes = group_attributes(root, version)
    ngff_validator(version).validate(attributes)
    body = attributes["ome"] if version == "0.5" else attributes
    multiscale = body["multiscales"][0]
    assert [a["name"] for a in multiscale["axes"]] == ["c", "y", "x"]
    assert [d["path"] for d in multiscale["datasets"]] == ["0", "1", "2"]  # highest resolution first
    for level, dataset in enumerate(multiscale["datasets"]):
        scales = [t for t in dataset["coordinateTransformations"] if t["type"] == "scale"]
        assert len(scales) == 1 and scales[0]["scale"] == [1.0, 2.0**level, 2.0**level]
    channels = body["omero"]["channels"]
    assert [c["color"] for c in channels] == ["FF0000", "00FF00", "0000FF"]
    assert all({"start", "end", "min", "max"} <= set(c["window"]) for c in channels)
    if version == "0.5":
        level_meta = json.loads((root / "1" / "zarr.json").read_text())
        assert level_meta["dimension_names"] == ["c", "y", "x"]


def test_the_schema_rejects_broken_metadata() -> None:
    attributes = image_attributes("x", 2, "0.5", [("gray", "FFFFFF")], (0.0, 1.0), (0.0, 1.0))
    validator = ngff_validator("0.5")
    validator.validate(attributes)
    broken = json.loads(json.dumps(attributes))
    broken["ome"]["version"] = "0.4"
    assert not validator.is_valid(broken)
    del attributes["ome"]["multiscales"][0]["datasets"][1]["coordinateTransformations"]
    assert not validator.is_valid(attributes)


@pytest.mark.parametrize("version", ["0.5", "0.4"])
def test_opens_with_ome_zarr_py(tmp_path: Path, version: str) -> None:
    import ome_zarr.reader as reader_module  # in the test extra: a missing reader fails, never skips
    from ome_zarr.io import parse_url

    url = str(tmp_path / "image.zarr")
    full = write_small_store(url, version)
    location = parse_url(url)
    assert location is not None and location.version == version
    node = next(iter(reader_module.Reader(location)()))
    assert len(node.data) == 3
    for level, data in enumerate(node.data):
        np.testing.assert_array_equal(np.asarray(data), reference_level(full, level))
    assert node.metadata["channel_names"] == ["red", "green", "blue"]


def test_validates_with_ome_zarr_models(tmp_path: Path) -> None:
    import ome_zarr_models as models  # in the test extra: a missing package fails, never skips
    import zarr

    url = str(tmp_path / "image.zarr")
    write_small_store(url, "0.5")
    image = models.open_ome_zarr(zarr.open_group(url, mode="r"))
    assert type(image).__name__ == "Image"
