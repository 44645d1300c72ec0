"""Interrupted runs (kill -9) resume to the same bytes; several processes give the same store as one."""

from __future__ import annotations

import collections
import random
import subprocess
import sys
from pathlib import Path

import pytest
from io_helpers import pattern, read_events, store_files

from infd_io.store_info import store_info
from infd_io.writer import TiledWriter

WORKER = Path(__file__).parent / "tile_worker.py"
SHAPE = (3, 1024, 1024)
TILE, CHUNKS = 128, 64
ORDER_SEED = 11


def worker_command(url: str, *extra: str) -> list[str]:
    return [
        sys.executable, str(WORKER), url, "--shape", *map(str, SHAPE), "--tile", str(TILE),
        "--chunks", str(CHUNKS), "--order-seed", str(ORDER_SEED), *extra,
    ]  # fmt: skip


def worker(url: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(worker_command(url, *extra), capture_output=True, text=True, timeout=300)


def all_tiles(writer: TiledWriter) -> set[tuple[int, tuple[int, int]]]:
    return {(level, index) for level in range(writer.levels) for index in writer.grid.tiles(level)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], set]:
    """An uninterrupted single-process run, in tile order."""
    url = str(tmp_path_factory.mktemp("reference") / "image.zarr")
    writer = TiledWriter(url, SHAPE, "uint8", CHUNKS, tile_size=TILE)
    for index in writer.tiles():
        writer.write_tile(index, pattern(*writer.tile_bounds(index)))
    assert writer.finalize()
    return store_files(url), all_tiles(writer)


@pytest.mark.parametrize(("phase", "seed"), [("before-tile", 1), ("after-data", 2), ("in-pyramid", 3)])
def test_kill_9_then_resume_is_byte_identical(
    tmp_path: Path, reference: tuple, phase: str, seed: int
) -> None:
    expected_files, every_tile = reference
    url = str(tmp_path / "image.zarr")
    events = tmp_path / "events.jsonl"
    kill_at = random.Random(seed).randrange(1, 63)  # a random tile of the 64

    killed = worker(url, "--events", str(events), "--kill-at", str(kill_at), "--kill-phase", phase)
    assert killed.returncode == -9, killed.stderr
    before = read_events(events)
    assert store_info(url).complete is False

    resumed = worker(url, "--events", str(tmp_path / "after.jsonl"), "--finalize")
    assert resumed.returncode == 0, resumed.stderr
    after = read_events(tmp_path / "after.jsonl")

    # nothing complete before the kill is written again, nothing is written twice, nothing is missing
    assert not set(before) & set(after)
    assert max(collections.Counter(before + after).values()) == 1
    assert set(before) | set(after) == every_tile
    if phase != "in-pyramid":
        assert sum(1 for level, _ in before if level == 0) == kill_at

    files = store_files(url)
    chunk_files = {k for k in expected_files if k.startswith("0/c/")}
    assert chunk_files and chunk_files <= files.keys()
    assert all(files[k] == expected_files[k] for k in chunk_files)
    assert files == expected_files  # every level, the metadata and the completion record


def test_two_processes_writing_disjoint_tiles_match_one_process(tmp_path: Path, reference: tuple) -> None:
    expected_files, every_tile = reference
    url = str(tmp_path / "image.zarr")
    TiledWriter(url, SHAPE, "uint8", CHUNKS, tile_size=TILE)  # rank 0 creates the store first
    logs = [tmp_path / f"rank{r}.jsonl" for r in range(2)]
    command = [
        worker_command(url, "--rank", str(r), "--ranks", "2", "--events", str(logs[r])) for r in range(2)
    ]
    processes = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in command
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
    TiledWriter.open(url).finalize()  # builds parents whose children were finished by different ranks last

    level0 = [read_events(log) for log in logs]
    for rank in range(2):
        assert {index for level, index in level0[rank] if level == 0}  # both ranks wrote tiles
    written = [tile for log in level0 for tile in log if tile[0] == 0]
    assert sorted(written) == sorted(t for t in every_tile if t[0] == 0)  # disjoint and complete
    assert store_files(url) == expected_files
