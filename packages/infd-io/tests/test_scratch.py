"""ScratchStore: named arrays reopened by a resumed computation and an atomic progress record."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from infd_io.scratch import ScratchStore, read_progress


def test_arrays_are_reopened_when_they_match_and_replaced_when_not(tmp_path: Path) -> None:
    store = ScratchStore(str(tmp_path / "s.state"))
    a = store.allocate("x", (1, 3, 40, 30), (1, 1, 16, 16))
    a[0, 1, 5:9] = 7.0
    again = ScratchStore(str(tmp_path / "s.state")).allocate("x", (1, 3, 40, 30), (1, 1, 16, 16))
    assert again.dtype == np.float32 and float(np.asarray(again[0, 1, 5:9]).min()) == 7.0
    other = store.allocate("x", (1, 3, 40, 31), (1, 1, 16, 16))  # another shape: a new, empty array
    assert other.shape == (1, 3, 40, 31) and float(np.abs(np.asarray(other[:])).max()) == 0.0
    assert store.allocate("f", (40, 21, 2), (16, 16, 2)).dtype == np.float64
    store.remove()
    assert not (tmp_path / "s.state").exists()


def test_progress_is_replaced_atomically_and_garbage_reads_as_none(tmp_path: Path) -> None:
    store = ScratchStore(str(tmp_path / "s.state"))
    assert store.read_progress() is None
    store.write_progress({"done": 1, "steps": 2})
    assert read_progress(str(tmp_path / "s.state")) == {"done": 1, "steps": 2}
    assert not [p for p in (tmp_path / "s.state").iterdir() if ".tmp" in p.name]
    (tmp_path / "s.state" / "progress.json").write_text("{torn")
    assert store.read_progress() is None
