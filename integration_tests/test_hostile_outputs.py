"""Careless reruns into existing outputs: provenance, locks, kill -9 + resume, checks before work.

Every case runs the installed ``infd`` under an address-space cap and a timeout (``hostile.run_capped``)
and asserts a one-line error with its exit status (2: the request conflicts with what is there), no
traceback, and that nothing was mixed, overwritten or left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
import zarr
from cli_helpers import BIN
from hostile import assert_nothing_left, assert_one_line_error, run_capped, snapshot


def demo_checkpoint(pipeline: str) -> Path:
    return Path(str(resources.files(f"infd_{pipeline}") / "demo" / "checkpoint"))


#: small, quick sampling settings per pipeline, each giving a store of several tiles
SAMPLE_ARGS = {
    "inftydiff": ["--size", "128", "--set", "config.sampling.steps=2", "--set", "config.sampling.chunk=32"],
    "infbrush": ["--size", "128", "--set", "config.sampling.steps=2", "--set", "config.sampling.chunk=32"],
    "infd": [
        "--size", "128", "--set", "config.sampling.steps=2", "--set", "config.sampling.tile_size=32",
        "--set", "config.sampling.chunk=32", "--set", "config.evaluate.enabled=false",
    ],
    "gud": [
        "--set", "config.extension.width=96", "--set", "config.extension.steps_per_window=1",
        "--set", "config.extension.completion=false",
    ],
}  # fmt: skip
#: the store whose tiles each pipeline's test counts
STORE = {"inftydiff": "sample-000.ome.zarr", "infbrush": "sample-000.ome.zarr", "infd": "sample-000.ome.zarr"}
STORE["gud"] = "strip.zarr"


def sample(pipeline: str, out: Path, *extra: str, env: dict[str, str] | None = None):
    args = ["sample", str(demo_checkpoint(pipeline)), "--out", str(out), "--num", "1", *SAMPLE_ARGS[pipeline]]
    return run_capped(*args, *extra, env=env)


def tile_record(store: Path) -> np.ndarray:
    return np.asarray(zarr.open_array(str(store / "infd_tiles" / "0"), mode="r")[:])


def tile_files(store: Path, done: np.ndarray) -> dict[Path, int]:
    """mtime (ns) of the level-0 shard file of every finished tile."""
    files = {}
    for i, j in zip(*np.nonzero(done), strict=True):
        path = store / "0" / "c" / "0" / str(i) / str(j)
        files[path] = path.stat().st_mtime_ns
    return files


def levels(store: Path) -> list[np.ndarray]:
    group = zarr.open_group(str(store), mode="r")
    datasets = group.attrs["ome"]["multiscales"][0]["datasets"]
    return [np.asarray(group[dataset["path"]][:]) for dataset in datasets]


def assert_ok(result) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr[-3000:]}"


#: the tests of the module fixture ``inftydiff_samples`` run on one xdist worker, which makes it once
SAMPLES_GROUP = pytest.mark.xdist_group("inftydiff_samples")


@pytest.mark.parametrize(
    "pipeline", [pytest.param("inftydiff", marks=SAMPLES_GROUP), "infbrush", "infd", "gud"]
)
def test_kill_9_then_resume_keeps_finished_tiles(tmp_path, pipeline, request):
    reference, out = tmp_path / "reference", tmp_path / "out"
    if pipeline == "inftydiff":  # the module's uninterrupted samples: the same command, made once
        reference = request.getfixturevalue("inftydiff_samples")
    else:
        assert_ok(sample(pipeline, reference))
    killed = sample(pipeline, out, env={"INFD_FAIL_AT": "tile:0:1:kill"})  # kill -9 after two tiles
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    store = out / STORE[pipeline]
    done = tile_record(store)
    assert int(done.sum()) == 2 < done.size  # killed right after its second tile was recorded
    kept = tile_files(store, done)
    assert len(kept) == 2
    time.sleep(0.05)  # a rewritten file would get a later mtime
    resumed = sample(pipeline, out, "--resume")
    assert_ok(resumed)
    assert {path: path.stat().st_mtime_ns for path in kept} == kept, "finished tiles were rewritten"
    assert int(tile_record(store).sum()) == done.size
    for ours, theirs in zip(levels(store), levels(reference / STORE[pipeline]), strict=True):
        np.testing.assert_array_equal(ours, theirs)  # the same computation as the uninterrupted run


@pytest.fixture(scope="module")
def inftydiff_samples(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("samples") / "out"
    assert_ok(sample("inftydiff", out))
    return out


def _files(folder: Path) -> dict[str, bytes]:
    """Every file's bytes (the lock file, empty between runs, aside)."""
    files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    assert files.pop(".infd-output.lock", b"") == b""
    return files


@SAMPLES_GROUP
def test_other_seed_is_refused_and_nothing_changes(inftydiff_samples):
    before = _files(inftydiff_samples)
    result = sample("inftydiff", inftydiff_samples, "--set", "seed=1")
    assert_one_line_error(result, 2, "other settings", "seed (0 → 1)", "--overwrite")
    assert _files(inftydiff_samples) == before


@SAMPLES_GROUP
def test_other_sampling_settings_are_refused_with_resume(inftydiff_samples):
    before = _files(inftydiff_samples)
    result = sample("inftydiff", inftydiff_samples, "--resume", "--set", "config.sampling.steps=3")
    assert_one_line_error(result, 2, "config.sampling.steps (2 → 3)")
    assert _files(inftydiff_samples) == before


@SAMPLES_GROUP
def test_other_checkpoint_is_refused(inftydiff_samples, tmp_path):
    changed = tmp_path / "changed"
    shutil.copytree(demo_checkpoint("inftydiff"), changed)
    weights = safetensors.torch.load_file(changed / "ema.safetensors")
    name = sorted(weights)[0]
    weights[name] = weights[name] + 1e-3
    safetensors.torch.save_file(weights, changed / "ema.safetensors")
    before = _files(inftydiff_samples)
    args = ["sample", str(changed), "--out", str(inftydiff_samples), "--num", "1", *SAMPLE_ARGS["inftydiff"]]
    result = run_capped(*args)
    assert_one_line_error(result, 2, "checkpoint (")
    assert _files(inftydiff_samples) == before


@SAMPLES_GROUP
def test_same_settings_rerun_keeps_everything_and_overwrite_replaces(inftydiff_samples, tmp_path):
    before = _files(inftydiff_samples)
    assert_ok(sample("inftydiff", inftydiff_samples))
    assert _files(inftydiff_samples) == before  # finished samples are kept, not computed again
    copy = tmp_path / "copy"
    shutil.copytree(inftydiff_samples, copy)
    assert_ok(sample("inftydiff", copy, "--set", "seed=1", "--overwrite"))
    record = json.loads((copy / "infd-output.json").read_text())
    assert record["fingerprint"]["seed"] == 1
    assert _files(copy)["sample-000.png"] != before["sample-000.png"]


def test_folder_of_foreign_files_is_refused(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_text("do not touch")
    before = snapshot(tmp_path)
    result = sample("inftydiff", folder, "--overwrite")
    assert_one_line_error(result, 2, "without an infd provenance record", "thesis.tex")
    assert_nothing_left(before, tmp_path)
    assert (folder / "thesis.tex").read_text() == "do not touch"


def test_unwritable_out_fails_before_sampling(tmp_path):
    out = Path("/proc/infd-hostile/out")  # /proc reports no free disk: --force skips that check
    result = sample("inftydiff", out, "--set", "config.sampling.steps=50", "--force")
    assert_one_line_error(result, 1, f"{out}: output location is not writable")
    assert result.seconds < 60  # refused before 50 steps of sampling


def test_sample_from_checkpoint_leaves_no_stray_folder(tmp_path):
    work = tmp_path / "cwd"
    work.mkdir()
    args = ["sample", str(demo_checkpoint("inftydiff")), "--out", str(tmp_path / "out"), "--num", "1"]
    assert_ok(run_capped(*args, *SAMPLE_ARGS["inftydiff"], cwd=work))
    assert list(work.iterdir()) == []  # the checkpoint's training output folder is not created


# -- render: a second concurrent writer, a stale lock, other features ----------------------------


RENDER_CONFIG = '{"feature_channels": 4, "hidden_channels": 8, "residual_blocks": 1, "gemm_chunk": 256}'


def _features(path: Path, seed: int) -> Path:
    generator = torch.Generator().manual_seed(seed)
    safetensors.torch.save_file({"features": torch.randn(4, 8, 8, generator=generator)}, path)
    return path


def render_args(features: Path, out: Path) -> list[str]:
    return [
        "render", "--features", str(features), "--config", RENDER_CONFIG, "--size", "256",
        "--tile-size", "64", "--out", str(out),
    ]  # fmt: skip


def render(features: Path, out: Path, *extra: str, env: dict[str, str] | None = None):
    return run_capped(*render_args(features, out), *extra, env=env)


def test_render_refuses_other_features_and_resumes_after_kill(tmp_path):
    first, second = _features(tmp_path / "a.safetensors", 0), _features(tmp_path / "b.safetensors", 1)
    out, reference = tmp_path / "out.ome.zarr", tmp_path / "reference.ome.zarr"
    assert_ok(render(first, reference))
    killed = render(first, out, env={"INFD_FAIL_AT": "tile:0:4:kill"})
    assert killed.returncode == -signal.SIGKILL
    done = tile_record(out)
    kept = tile_files(out, done)
    refused = render(second, out)
    assert_one_line_error(refused, 2, "features (")
    refused = render(first, out, "--seed", "1")  # other random weights
    assert_one_line_error(refused, 2, "weights (")
    time.sleep(0.05)
    assert_ok(render(first, out))
    assert {path: path.stat().st_mtime_ns for path in kept} == kept and len(kept) == 5
    for ours, theirs in zip(levels(out), levels(reference), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_concurrent_render_is_refused_and_a_killed_writers_lock_is_taken(tmp_path):
    features, out = _features(tmp_path / "f.safetensors", 0), tmp_path / "busy.ome.zarr"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = render_args(features, out)
    first = subprocess.Popen(
        [str(BIN / "infd"), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        lock = out / ".infd-output.lock"
        deadline = time.monotonic() + 120
        while not (lock.exists() and lock.read_text().strip()) and first.poll() is None:
            assert time.monotonic() < deadline, "the first render never took its lock"
            time.sleep(0.02)
        first.send_signal(signal.SIGSTOP)  # holds the lock, writes nothing more
        second = run_capped(*args)
        assert_one_line_error(second, 2, "is being written by infd pid", str(first.pid))
    finally:
        first.kill()  # kill -9: its lock is left behind
        first.wait()
    assert lock.read_text().strip()  # the dead writer's note is still there
    assert_ok(run_capped(*args, "--resume"))
    assert int(tile_record(out).sum()) == 16


# -- training folders: other settings, a resumed run training longer, a concurrent second run -------


def _train_config(tmp_path: Path, steps: int) -> Path:
    config = tmp_path / f"train-{steps}.yaml"
    config.write_text(
        "pipeline: inftydiff\ndevice: cpu\n"
        f"output: {tmp_path / 'run'}\n"
        "config: {preset: tiny, data: {source: builtin, resolution: 16, batch_size: 2},"
        f" optim: {{steps: {steps}, log_every: 1}}}}\n"
        "sample: {enabled: false}\n"
    )
    return config


def test_training_folder_refuses_other_settings_and_allows_training_longer(tmp_path):
    config = _train_config(tmp_path, 2)
    assert_ok(run_capped("train", str(config)))
    log = tmp_path / "run" / "train_log.jsonl"
    before = log.read_bytes()
    refused = run_capped("train", str(config), "--set", "seed=1")
    assert_one_line_error(refused, 2, "training run made with other settings", "seed (0 → 1)")
    refused = run_capped("train", str(config), "--set", "config.diffusion.num_steps=500")
    assert_one_line_error(refused, 2, "config.diffusion.num_steps (1000 → 500)")
    assert log.read_bytes() == before  # nothing appended by the refused runs
    checkpoint = tmp_path / "run" / "checkpoint"
    longer = run_capped("train", str(config), "--resume", str(checkpoint), "--set", "config.optim.steps=3")
    assert_ok(longer)
    assert json.loads((checkpoint / "config.json").read_text())["meta"]["step"] == 3
    assert_ok(run_capped("train", str(config), "--set", "seed=1", "--overwrite"))
    assert json.loads((tmp_path / "run" / "infd-output.json").read_text())["fingerprint"]["seed"] == 1


def test_concurrent_training_into_one_folder_is_refused(tmp_path):
    config = _train_config(tmp_path, 100000)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    pipes = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    first = subprocess.Popen([str(BIN / "infd"), "train", str(config)], env=env, **pipes)
    lock = tmp_path / "run" / ".infd-output.lock"
    try:
        deadline = time.monotonic() + 120
        while not (lock.exists() and lock.read_text().strip()) and first.poll() is None:
            assert time.monotonic() < deadline, "the first run never took its lock"
            time.sleep(0.02)
        first.send_signal(signal.SIGSTOP)
        second = run_capped("train", str(config))
        assert_one_line_error(second, 2, "is being written by infd pid", str(first.pid))
    finally:
        first.kill()
        first.wait()


# -- limits checked before any work ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pipeline", "extra", "what"),
    [
        ("infd", ["--size", "200000x200000"], "1 image of 3×200000×200000"),
        ("infd", ["--num", "1000000000"], "1000000000 images"),
        ("inftydiff", ["--size", "200000x200000"], "1 image of 3×200000×200000"),
        ("gud", ["--num", "1000000000", "--set", "config.extension.enabled=false"], "1000000000 samples"),
        ("funcdiff", ["--num", "1000000000"], "1000000000 functions"),
    ],
)
def test_absurd_requests_are_refused_before_work(tmp_path, pipeline, extra, what):
    before = snapshot(tmp_path)
    result = run_capped("sample", str(demo_checkpoint(pipeline)), "--out", str(tmp_path / "out"), *extra)
    assert_one_line_error(result, 2, what, "use --force")
    assert result.seconds < 60
    assert_nothing_left(before, tmp_path)


def test_absurd_render_is_refused_before_work(tmp_path):
    features = _features(tmp_path / "f.safetensors", 0)
    before = snapshot(tmp_path)
    args = [a if a != "256" else "10000000" for a in render_args(features, tmp_path / "huge.ome.zarr")]
    result = run_capped(*args)
    assert_one_line_error(result, 2, "3×10000000×10000000", "use --force")
    assert_nothing_left(before, tmp_path)


def test_decompression_bomb_is_refused_from_its_header(tmp_path):
    from PIL import Image

    bomb = tmp_path / "bomb.png"
    Image.new("1", (12000, 12000)).save(bomb)  # 144 megapixels in a few hundred KB
    assert bomb.stat().st_size < 1 << 20
    inpaint = json.dumps({"image": str(bomb), "mask": str(bomb)})
    args = ["sample", str(demo_checkpoint("inftydiff")), "--out", str(tmp_path / "out")]
    args += ["--set", f"config.sampling.inpaint={inpaint}"]
    result = run_capped(*args)  # decoded, it would take 1.6 GiB as float32 RGB, more than the cap allows
    assert_one_line_error(result, 2, "12000x12000", "INFD_MAX_IMAGE_PIXELS")
    tighter = run_capped(*args, env={"INFD_MAX_IMAGE_PIXELS": "1"})  # the limit is the user's to set
    assert_one_line_error(tighter, 2, "more than the limit of 1 ")
