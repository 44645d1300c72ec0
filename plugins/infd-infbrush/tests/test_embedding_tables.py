"""Embedding tables in both formats: round trips, tables made by the safetensors and zarr libraries
themselves (an independent reference of each format), and the one-line error of every malformed table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import zarr
from safetensors.numpy import save_file

from infd_core.errors import UsageError
from infd_infbrush.embeddings import read_table, write_table
from infd_infbrush.errors import ConditionError

FORMATS = ["safetensors", "zarr"]


def library_table(
    path: Path, arrays: dict[str, np.ndarray], attributes: dict[str, Any], zarr_format: int = 3
):
    """A table written with the format's own library (not ours): safetensors with JSON-encoded
    ``files`` metadata, or a zarr group with the arrays and group attributes."""
    if path.suffix == ".safetensors":
        metadata = {k: v if k == "encoder" else json.dumps(v) for k, v in attributes.items()}
        save_file(arrays, str(path), metadata=metadata)
        return
    group = zarr.open_group(str(path), mode="w", zarr_format=zarr_format, attributes=attributes)
    for name, values in arrays.items():
        group.create_array(name, data=values)


@pytest.mark.parametrize("shape", [(5, 3), (4, 6, 3)], ids=["vectors", "token-sets"])
def test_round_trips_between_the_formats_give_identical_tensors(tmp_path, shape):
    embeddings = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    files = [f"dir/{i}.png" for i in range(shape[0])]
    first = write_table(tmp_path / "a.safetensors", embeddings, files, "an encoder")
    table = read_table(first)
    second = write_table(tmp_path / "b.zarr", table.embeddings, table.files, table.encoder)
    table = read_table(second)
    third = read_table(write_table(tmp_path / "c.safetensors", table.embeddings, table.files, table.encoder))
    for t in (table, third):
        assert torch.equal(t.embeddings, embeddings) and t.files == files and t.encoder == "an encoder"
    # what our zarr writer made, read back by zarr itself
    group = zarr.open_group(second, mode="r")
    np.testing.assert_array_equal(group["embeddings"][...], embeddings.numpy())
    assert dict(group.attrs) == {"files": files, "encoder": "an encoder"}


@pytest.mark.parametrize(
    ("zarr_format", "dtype", "shape"),
    [(2, "float16", (3, 4)), (3, "float16", (3, 2, 4)), (2, ">f8", (3, 4)), (3, "float64", (3, 2, 4))],
)
def test_a_table_made_with_the_zarr_library_reads_as_float32(tmp_path, zarr_format, dtype, shape):
    values = np.random.default_rng(0).normal(size=shape).astype(dtype)
    path = tmp_path / "made-by-zarr.zarr"
    library_table(path, {"embeddings": values}, {"files": ["a.png", "b.png", "c.png"], "encoder": "DINOv2"},
                  zarr_format)  # fmt: skip
    table = read_table(str(path))
    assert table.embeddings.dtype == torch.float32 and table.files == ["a.png", "b.png", "c.png"]
    assert table.encoder == "DINOv2"
    np.testing.assert_array_equal(table.embeddings.numpy(), values.astype(np.float32))


def test_files_and_encoder_are_optional_and_fsspec_urls_read(tmp_path):
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    url = "memory://infbrush-tables/no-files.zarr"
    group = zarr.open_group(url, mode="w")
    group.create_array("embeddings", data=values)
    table = read_table(url)
    assert table.files == [] and table.encoder == ""
    np.testing.assert_array_equal(table.embeddings.numpy(), values)
    write_table("memory://infbrush-tables/ours.zarr", torch.ones(1, 2, 3), ["x.png"])
    assert torch.equal(read_table("memory://infbrush-tables/ours.zarr").embeddings, torch.ones(1, 2, 3))


GOOD = np.ones((2, 3), dtype=np.float32)
FILES = ["a.png", "b.png"]
MALFORMED = {
    "no array": ({"other": GOOD}, {}, r"no 'embeddings' array \(found other\)"),
    "rank 1": (
        {"embeddings": GOOD[0]},
        {},
        r"must be a float \[N, D\] or \[N, T, D\] array, got float32 \[3\]",
    ),
    "rank 4": ({"embeddings": GOOD[None, None]}, {}, r"got float32 \[1, 1, 2, 3\]"),
    "integers": ({"embeddings": GOOD.astype(np.int32)}, {}, r"must be a float .* got int32 \[2, 3\]"),
    "no rows": ({"embeddings": GOOD[:0]}, {}, r"embeddings is empty \(\[0, 3\]\)"),
    "no tokens": ({"embeddings": GOOD[:, :0, None]}, {}, r"embeddings is empty \(\[2, 0, 1\]\)"),
    "NaN": ({"embeddings": np.array([[0, 1.0], [np.nan, 0]], np.float32)}, {}, "non-finite .* row 1"),
    "too few files": (
        {"embeddings": GOOD},
        {"files": FILES[:1]},
        r"'files' must list one path per row \(2\)",
    ),
    "files not a list": ({"embeddings": GOOD}, {"files": "a.png"}, "'files' must list one path per row"),
    "files not text": ({"embeddings": GOOD}, {"files": [1, 2]}, "'files' must list one path per row"),
    "a file twice": ({"embeddings": GOOD}, {"files": ["a.png", "a.png"]}, "'files' lists 'a.png' twice"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
@pytest.mark.parametrize("kind", ["safetensors", "zarr2", "zarr3"])
def test_every_malformed_table_is_the_same_one_line_error_in_every_format(tmp_path, kind, case):
    arrays, attributes, message = MALFORMED[case]
    path = tmp_path / ("t.safetensors" if kind == "safetensors" else "t.zarr")
    library_table(path, arrays, attributes, zarr_format=3 if kind == "zarr3" else 2)
    with pytest.raises(ConditionError, match=message) as error:
        read_table(str(path))
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


@pytest.mark.parametrize("suffix", FORMATS)
def test_the_writers_refuse_what_the_readers_would_refuse(tmp_path, suffix):
    path = tmp_path / f"t.{suffix}"
    bad = {
        r"got float32 \[3\]": (torch.ones(3), FILES[:1]),
        r"got float32 \[\]": (torch.tensor(1.0), FILES[:1]),
        "non-finite .* row 0": (torch.tensor([[float("inf")], [0.0]]), FILES),
        "'files' lists 'a.png' twice": (torch.ones(2, 3), ["a.png", "a.png"]),
    }
    for message, (embeddings, files) in bad.items():
        with pytest.raises(ConditionError, match=message):
            write_table(path, embeddings, files)
    assert not path.exists()


def test_zarr_float64_beyond_float32_is_refused_as_non_finite(tmp_path):
    library_table(tmp_path / "big.zarr", {"embeddings": np.array([[1.0], [1e300]])}, {})
    with pytest.raises(ConditionError, match=r"non-finite .* row 1"):
        read_table(str(tmp_path / "big.zarr"))


def test_unreadable_stores_and_names_are_one_line_errors(tmp_path):
    (tmp_path / "junk.zarr").mkdir()
    (tmp_path / "junk.zarr" / "zarr.json").write_text("{not json")
    (tmp_path / "file.zarr").write_text("a file, not a folder")
    (tmp_path / "folder.zarr").mkdir()
    (tmp_path / "junk.safetensors").write_bytes(b"not a table")
    zarr.create_array(str(tmp_path / "array.zarr"), data=GOOD)  # an array, not a group
    library_table(tmp_path / "encoder.zarr", {"embeddings": GOOD}, {"encoder": {"name": "x"}})
    library_table(tmp_path / "chunk.zarr", {"embeddings": GOOD}, {})
    for chunk in (p for p in (tmp_path / "chunk.zarr" / "embeddings").rglob("*") if p.name != "zarr.json"):
        if chunk.is_file():
            chunk.write_bytes(b"a damaged chunk")
    cases = {
        "junk.zarr": "not a readable zarr group",
        "file.zarr": "not a readable zarr group",
        "folder.zarr": "not a readable zarr group",
        "missing.zarr": "not a readable zarr group",
        "array.zarr": "not a readable zarr group",
        "junk.safetensors": "not a readable safetensors file",
        "missing.safetensors": "not an existing .safetensors embedding table",
        "table.npy": r"an embedding table is a \.safetensors file or a \.zarr group",
        "encoder.zarr": "'encoder' must be text, got dict",
        "chunk.zarr": "embeddings cannot be read",
    }
    for name, message in cases.items():
        with pytest.raises(ConditionError, match=message) as error:
            read_table(str(tmp_path / name))
        assert "\n" not in str(error.value), name
    with pytest.raises(ConditionError, match=r"a \.safetensors file or a \.zarr group"):
        write_table(tmp_path / "table.npy", torch.ones(2, 3), FILES)


def test_a_zarr_table_cut_short_never_reads_as_valid(tmp_path, monkeypatch):
    """The writer is stopped (as by a kill) just before its last write, the attributes: the array is
    complete, yet the table is refused; writing it again replaces it."""
    path = tmp_path / "t.zarr"

    class Killed(BaseException):
        pass

    def killed(self, attributes):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(zarr.core.attributes.Attributes, "put", killed)
        with pytest.raises(Killed):
            write_table(path, torch.ones(2, 3), FILES)
    assert zarr.open_group(str(path), mode="r")["embeddings"].shape == (2, 3)
    with pytest.raises(ConditionError, match="unfinished table"):
        read_table(str(path))
    write_table(path, torch.ones(2, 3), FILES)
    assert read_table(str(path)).files == FILES


@pytest.mark.parametrize("existing", ["image", "folder", "file"])
def test_the_zarr_writer_replaces_a_table_but_nothing_else(tmp_path, existing):
    table = tmp_path / "t.zarr"
    write_table(table, torch.zeros(2, 3), FILES)
    write_table(table, torch.ones(1, 3), ["c.png"])  # a table is replaced
    assert read_table(str(table)).files == ["c.png"]
    (tmp_path / "empty.zarr").mkdir()
    write_table(tmp_path / "empty.zarr", torch.ones(1, 3), ["c.png"])  # as is an empty folder
    other = tmp_path / "other.zarr"
    if existing == "image":  # a zarr group with other arrays (an image, say)
        library_table(other, {"0": GOOD, "embeddings": GOOD}, {"multiscales": []})
    elif existing == "folder":
        other.mkdir()
        (other / "notes.txt").write_text("keep me")
    else:
        other.write_text("keep me")
    before = sorted(p.name for p in tmp_path.rglob("*") if p.is_relative_to(other))
    with pytest.raises(UsageError, match="exists and is not an embedding table") as error:
        write_table(other, torch.ones(1, 3), ["c.png"])
    assert "\n" not in str(error.value)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_relative_to(other)) == before
