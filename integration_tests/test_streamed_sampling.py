"""Out-of-core ∞-Diff sampling through the CLI: kill -9 at three points then ``--resume``, refused resumes,
two ranks against one, a failing rank.

A small ``sampling.memory_budget`` makes the demo model stream a 128² (256² for the ranks) image through
its state store in several tiles. Every run is compared with an uninterrupted one-process run, byte for
byte: tiles, channel groups and reductions are computed the same way whatever the interruption or the
number of ranks (reductions are gathered per tile and summed in tile order), on one thread each.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from hostile import assert_one_line_error, run_capped
from test_hostile_outputs import assert_ok, demo_checkpoint, levels

STREAMED = ["--set", "config.sampling.steps=2", "--set", "config.sampling.chunk=32",
            "--set", "config.sampling.memory_budget=4MiB"]  # fmt: skip
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
#: one xdist worker makes the module's reference once for all its tests
pytestmark = pytest.mark.xdist_group("streamed_sampling")


def sample(out: Path, *extra: str, size: int = 128, env: dict[str, str] | None = None):
    args = ["sample", str(demo_checkpoint("inftydiff")), "--out", str(out), "--size", str(size), *STREAMED]
    if size == 256:  # 4 local tiles of 192² (their halo: 24) and 64 pointwise tiles of 32²
        args += ["--set", "config.sampling.memory_budget=8MiB"]
    return run_capped(*args, *extra, env=env or ONE_THREAD, timeout=300)


def progress(out: Path) -> dict:
    return json.loads((out / "sample-000.state" / "progress.json").read_text())


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> list[np.ndarray]:
    out = tmp_path_factory.mktemp("streamed") / "reference"
    result = sample(out)
    assert_ok(result)
    assert not (out / "sample-000.state").exists()  # the state is removed once the image is written
    return levels(out / "sample-000.ome.zarr")


@pytest.mark.parametrize(
    ("fault", "done"),
    [("streamed-tile:0:5:kill", 0), ("streamed-step:0:0:kill", 1), ("tile:0:1:kill", 2)],
    ids=["during a step", "between steps", "while writing the pyramid"],
)
def test_kill_9_then_resume_gives_the_same_store(tmp_path, reference, fault, done):
    out = tmp_path / "out"
    killed = sample(out, env={**ONE_THREAD, "INFD_FAIL_AT": fault})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert progress(out)["done"] == done  # the last step recorded before the kill
    if done == 1:  # a resume with other settings is refused by the output's record, the state untouched
        info = run_capped("io", "info", str(out / "sample-000.ome.zarr"))
        assert_ok(info)
        assert "sampling out of core: 1/2 steps done" in info.stdout
        assert_one_line_error(sample(out, "--resume", "--set", "seed=1"), 2, "seed (0 → 1)")
        assert progress(out)["done"] == 1
    assert_ok(sample(out, "--resume"))
    assert not (out / "sample-000.state").exists()
    for ours, theirs in zip(levels(out / "sample-000.ome.zarr"), reference, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_eta_or_a_guided_sample_out_of_core_is_refused_before_work(tmp_path):
    result = sample(tmp_path / "out", "--set", "config.sampling.eta=0.5")
    assert_one_line_error(result, 2, "eta = 0", "memory_budget")
    assert not (tmp_path / "out" / "sample-000.state").exists()


def test_two_ranks_share_the_tiles_and_write_what_one_process_writes(tmp_path):
    assert_ok(sample(tmp_path / "one", size=256))
    assert_ok(sample(tmp_path / "two", "--nproc", "2", size=256))
    for ours, theirs in zip(levels(tmp_path / "two" / "sample-000.ome.zarr"),
                            levels(tmp_path / "one" / "sample-000.ome.zarr"), strict=True):  # fmt: skip
        np.testing.assert_array_equal(ours, theirs)


def test_a_failing_rank_stops_the_run_naming_it_and_resume_finishes(tmp_path, reference):
    out = tmp_path / "out"
    failed = sample(out, "--nproc", "2", env={**ONE_THREAD, "INFD_FAIL_AT": "streamed-tile:1:2"})
    assert failed.returncode == 1, failed.stderr[-2000:]
    assert "injected failure at streamed-tile #2 on rank 1" in failed.stderr, failed.stderr[-3000:]
    assert "rank 1 of 2 failed first" in failed.stderr
    assert progress(out)["done"] == 0
    assert_ok(sample(out, "--nproc", "2", "--resume"))
    for ours, theirs in zip(levels(out / "sample-000.ome.zarr"), reference, strict=True):
        np.testing.assert_array_equal(ours, theirs)
