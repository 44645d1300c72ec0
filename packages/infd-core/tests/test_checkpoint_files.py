"""Checkpoint folders read as untrusted input: header fields, safetensors headers, sizes, file types,
remote errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import safetensors.torch
import torch

from infd_core.checkpoint_files import read_errors, validate_safetensors_index
from infd_core.checkpoints import load_checkpoint, read_checkpoint_header, save_checkpoint
from infd_core.errors import CheckpointError, CheckpointMismatchError, CheckpointNotFoundError, UsageError
from infd_core.outputs import remote_timeout


@pytest.fixture
def folder(tmp_path) -> Path:
    state = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(4, dtype=torch.int64)}
    save_checkpoint(str(tmp_path / "ckpt"), {"pipeline": "x"}, {"model": state, "ema": state}, {"step": 1})
    return tmp_path / "ckpt"


def _edit(folder: Path, **fields) -> None:
    header = json.loads((folder / "config.json").read_text())
    header.update(fields)
    (folder / "config.json").write_text(json.dumps(header))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"format_version": True}, "format_version must be a positive integer"),
        ({"format_version": 0}, "format_version must be a positive integer"),
        ({"format_version": 99}, "newer than this infd-core reads"),
        ({"files": ["model.safetensors", "model.safetensors"]}, "lists a file twice"),
        ({"files": ["sub/model.safetensors"]}, "not a plain NAME.safetensors"),
        ({"files": [".hidden.safetensors"]}, "not a plain NAME.safetensors"),
        ({"files": ["model.pt"]}, "not a plain NAME.safetensors"),
        ({"versions": {"infd-core": 1}}, "versions must map distributions to version strings"),
        ({"format": "other"}, "not an infd checkpoint header"),
    ],
)
def test_header_fields_are_checked(folder, fields, message):
    _edit(folder, **fields)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint_header(str(folder))


def test_header_nested_too_deeply_is_refused(folder):
    (folder / "config.json").write_text(
        '{"format": "infd-checkpoint", "config": ' + "[" * 50_000 + "]" * 50_000 + "}"
    )
    with pytest.raises(CheckpointError, match="nested deeper"):
        read_checkpoint_header(str(folder))


def _entry(dtype="F32", shape=(2, 3), offsets=(0, 24)) -> dict:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"dtype": "F32", "data_offsets": [0, 24]}, "must have dtype, shape and data_offsets"),
        ({**_entry(), "extra": 1}, "must have dtype, shape and data_offsets"),
        (_entry(dtype="F128"), "unknown dtype"),
        (_entry(shape=(2, -3)), "shape must list non-negative integers"),
        (_entry(shape=(2, 3.0)), "shape must list non-negative integers"),
        (_entry(offsets=(24, 0)), r"data_offsets must be \[begin, end\]"),
        (_entry(offsets=(0, 20)), "needs 24 bytes, its data_offsets give 20"),
        (_entry(dtype="BF16"), "needs 12 bytes"),
        ("not a mapping", "must have dtype"),
    ],
)
def test_safetensors_header_entries_are_checked(entry, message):
    with pytest.raises(CheckpointError, match=message):
        validate_safetensors_index({"t": entry}, "f.safetensors")


def test_valid_safetensors_header_gives_its_data_length():
    index = {"__metadata__": {"a": "b"}, "t": _entry(), "u": _entry("I64", (2,), (24, 40))}
    assert validate_safetensors_index(index, "f")[1] == 40
    raw = safetensors.torch.save({"t": torch.zeros(2, 3), "u": torch.zeros(2, dtype=torch.int64)})
    length = int.from_bytes(raw[:8], "little")
    parsed = json.loads(raw[8 : 8 + length])
    assert 8 + length + validate_safetensors_index(parsed, "f")[1] == len(raw)  # safetensors' own layout


@pytest.mark.parametrize("change", ["truncate", "append"])
def test_part_whose_size_differs_from_its_header_is_refused(folder, change):
    part = folder / "model.safetensors"
    data = part.read_bytes()
    part.write_bytes(data[:-8] if change == "truncate" else data + b"\0" * 8)
    for read in (lambda: load_checkpoint(str(folder)), lambda: read_checkpoint_header(str(folder))):
        with pytest.raises(CheckpointError, match=r"model\.safetensors: .* bytes, but its header describes"):
            read()


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder"])
def test_parts_that_are_not_regular_files_are_refused(folder, kind):
    part = folder / "ema.safetensors"
    part.unlink()
    if kind == "fifo":
        os.mkfifo(part)  # opening it would block forever
    elif kind == "dev-zero":
        part.symlink_to("/dev/zero")
    else:
        part.mkdir()
    with pytest.raises(CheckpointError, match=r"ema\.safetensors: not a regular file"):
        load_checkpoint(str(folder))


def test_state_like_checks_keys_and_shapes(folder):
    checkpoint = load_checkpoint(str(folder))
    reference = {"w": torch.zeros(2, 3, dtype=torch.float64), "b": torch.zeros(4, dtype=torch.int64)}
    state = checkpoint.state_like("ema", reference)
    assert state["w"].dtype == torch.float64 and torch.equal(
        state["w"], torch.arange(6.0).reshape(2, 3).double()
    )
    with pytest.raises(
        CheckpointMismatchError, match=r"ema.safetensors does not fit the model: w has shape \[2, 3\]"
    ):
        checkpoint.state_like("ema", {**reference, "w": torch.zeros(3, 2)})
    with pytest.raises(CheckpointMismatchError, match="missing: extra; unexpected: none"):
        checkpoint.state_like("ema", {**reference, "extra": torch.zeros(1)})


class _Refused(Exception):
    pass


class _Status(Exception):
    status = 404


def _raise_not_found_from(cause: Exception):
    try:
        raise cause
    except Exception as exc:
        raise FileNotFoundError("http://h/x") from exc


def test_read_errors_tell_unreachable_from_missing():
    with pytest.raises(CheckpointNotFoundError, match="http://h/x: not found"), read_errors("http://h/x"):
        _raise_not_found_from(_Status())
    refused = r"http://h/x: cannot read \(_Refused: connect call failed\)"
    with pytest.raises(CheckpointError, match=refused), read_errors("http://h/x"):
        _raise_not_found_from(_Refused("connect call failed"))
    with (
        pytest.raises(CheckpointError, match=r"no reply within .* INFD_REMOTE_TIMEOUT"),
        read_errors("http://h/x"),
    ):
        raise TimeoutError


def test_remote_timeout_setting(monkeypatch):
    monkeypatch.setenv("INFD_REMOTE_TIMEOUT", "2.5")
    assert remote_timeout() == 2.5
    for bad in ("0", "-1", "inf", "soon"):
        monkeypatch.setenv("INFD_REMOTE_TIMEOUT", bad)
        with pytest.raises(UsageError, match="INFD_REMOTE_TIMEOUT"):
            remote_timeout()
