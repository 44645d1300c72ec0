"""Multi-process runs on CPU with gloo: DDP training, tile-sharded sampling and rendering, failures.

Each test starts 2 ranks through torchrun (``python -m torch.distributed.run`` or ``infd --nproc``) and
compares them with one process run in this one, on one thread as the ranks are.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import safetensors.torch
import torch
from cli_helpers import BIN
from ddp_worker import train

from infd_core.checkpoints import Checkpoint, load_checkpoint
from infd_core.cli.main import run_cli

WORKER = Path(__file__).parent / "ddp_worker.py"
RENDER_CONFIG = '{"feature_channels": 4, "hidden_channels": 8, "residual_blocks": 1, "gemm_chunk": 256}'


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """This process runs the single-process references with the ranks' thread count (OMP_NUM_THREADS=1):
    "the same bytes" then compares the same computation, since how a CPU splits a float reduction or a
    matrix product over threads may change its rounding."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "INFD_FAIL_AT")}
    return {**env, "OMP_NUM_THREADS": "1", "INFD_DIST_TIMEOUT": "30", **extra}


def _run(args: list[str], timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=_env(**env))


def store_files(root: Path) -> dict[str, str]:
    """Every file under ``root`` (chunks, shards, metadata, record) with its SHA-256."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_two_ranks_train_like_one_with_the_same_global_batch(tmp_path: Path) -> None:
    """gud and funcdiff with grad_accumulation 2 on 2 ranks (uneven slices of batches 5 and 7) and
    inftydiff on 2 ranks end with the weights of one process taking the whole batch at once; the
    2-rank checkpoints resume in one process like the 1-process ones."""
    names = ["gud", "funcdiff", "inftydiff"]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = _run([*launcher, str(WORKER), str(tmp_path / "two"), *names])
    assert result.returncode == 0, result.stderr[-3000:]
    train(str(tmp_path / "one"), names)
    for name in names:
        one = load_checkpoint(str(tmp_path / "one" / name / "checkpoint"))
        two = load_checkpoint(str(tmp_path / "two" / name / "checkpoint"))
        assert two.meta["step"] == one.meta["step"] > 0
        _assert_same_weights(one, two, name)
    # a checkpoint written by 2 ranks resumes in 1 process like the 1-process checkpoint does
    longer = {"gud": {"training": {"steps": 5}}, "funcdiff": {"train": {"steps": 6}}}
    for source in ("one", "two"):
        train(str(tmp_path / f"resumed-{source}"), names[:2], longer, resume=str(tmp_path / source))
    for name in names[:2]:
        one = load_checkpoint(str(tmp_path / "resumed-one" / name / "checkpoint"))
        two = load_checkpoint(str(tmp_path / "resumed-two" / name / "checkpoint"))
        assert two.meta["step"] == one.meta["step"] > 4
        _assert_same_weights(one, two, name)


def _assert_same_weights(one: Checkpoint, two: Checkpoint, name: str, atol: float = 1e-5) -> None:
    for key, value in one.state("model").items():
        torch.testing.assert_close(two.state("model")[key], value, rtol=1e-4, atol=atol, msg=f"{name} {key}")


@pytest.fixture(scope="module")
def gud_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("gud")
    train(str(out), ["gud"])
    return str(out / "gud" / "checkpoint")


def test_infd_sample_nproc_2_writes_the_same_bytes_as_one_process(
    tmp_path: Path, gud_checkpoint: str
) -> None:
    args = ["sample", gud_checkpoint, "--num", "5"]
    assert run_cli([*args, "--out", str(tmp_path / "one")]) == 0
    result = _run([str(BIN / "infd"), *args, "--out", str(tmp_path / "two"), "--nproc", "2"])
    assert result.returncode == 0, result.stderr[-3000:]
    for i in range(5):
        assert f"sample_{i:04d}.png" in result.stdout
    one, two = store_files(tmp_path / "one"), store_files(tmp_path / "two")
    assert len(one) > 5 and one == two
    # --resume keeps the complete store (nothing rewritten) instead of replacing it
    shard = tmp_path / "two" / "samples.zarr" / "0" / "c" / "0" / "0" / "0"
    before = shard.stat().st_mtime_ns
    assert run_cli([*args, "--out", str(tmp_path / "two"), "--resume"]) == 0
    assert shard.stat().st_mtime_ns == before and store_files(tmp_path / "two") == one


def _render(out: Path, *extra: str) -> list[str]:
    features = out.parent / "phi.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not features.exists():
        safetensors.torch.save_file({"phi": torch.randn(4, 6, 6, generator=torch.Generator().manual_seed(0))},
                                    str(features))  # fmt: skip
    return ["render", "--features", str(features), "--size", "200x136", "--config", RENDER_CONFIG,
            "--tile-size", "32", "--device", "cpu", "--out", str(out), *extra]  # fmt: skip


def test_a_failing_rank_stops_the_run_and_the_store_resumes_identically(tmp_path: Path) -> None:
    """Rank 1 dies after writing 3 tiles: the run stops at once naming rank 1; rerunning resumes the
    store (done tiles kept) and ends byte-identical to an uninterrupted single-process render."""
    assert run_cli(_render(tmp_path / "one" / "image.zarr")) == 0  # both stores named "image"
    reference = store_files(tmp_path / "one" / "image.zarr")
    assert sum(1 for name in reference if name.startswith("infd_tiles/0/c/")) == 35  # 7 x 5 tiles, 4 levels

    infd, url = str(BIN / "infd"), tmp_path / "two" / "image.zarr"
    start = time.monotonic()
    failed = _run([infd, *_render(url, "--nproc", "2")], INFD_FAIL_AT="tile:1:3")
    assert failed.returncode == 1
    assert time.monotonic() - start < 60
    assert "injected failure at tile #3 on rank 1" in failed.stderr
    assert "infd: error: rank 1 of 2 failed first (exit code 1)" in failed.stderr
    done = [name for name in store_files(url) if name.startswith("infd_tiles/0/c/")]
    assert 4 <= len(done) < 35  # rank 1's 3 tiles + 1 and some of rank 0's are recorded

    resumed = _run([infd, *_render(url, "--nproc", "2")])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert store_files(url) == reference


# -- INFD and ∞-Brush -----------------------------------------------------------------------------------
NEW = ["infd", "infbrush"]


#: the tests of the module fixture ``one_process`` run on one xdist worker, which trains it once
ONE_PROCESS_GROUP = pytest.mark.xdist_group("one_process")


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """INFD and ∞-Brush trained in this process with the whole global batch at once."""
    out = tmp_path_factory.mktemp("one")
    train(str(out), NEW)
    return out


def _train_two_ranks(out: Path, name: str) -> Checkpoint:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = _run([*launcher, str(WORKER), str(out), name])
    assert result.returncode == 0, result.stderr[-3000:]
    return load_checkpoint(str(out / name / "checkpoint"))


@ONE_PROCESS_GROUP
def test_infd_two_ranks_with_accumulation_train_like_one_process(tmp_path: Path, one_process: Path) -> None:
    """Both INFD stages on 2 ranks x grad_accumulation 2 (global batches 5 and 4: uneven slices), with
    the GAN on from step 1 (adaptive weight from the global batch, the discriminator stepped on the
    whole gathered batch) and the VQ codebook initialised from the global first batch."""
    one = load_checkpoint(str(one_process / "infd" / "checkpoint"))
    two = _train_two_ranks(tmp_path, "infd")
    assert two.meta["autoencoder_step"] == one.meta["autoencoder_step"] == 3
    assert two.meta["latent_step"] == one.meta["latent_step"] == 2
    torch.testing.assert_close(two.state("autoencoder")["regulariser.initialised"], torch.tensor(True))
    for group in ("autoencoder", "discriminator", "latent", "latent_ema"):
        for key, value in one.state(group).items():
            torch.testing.assert_close(
                two.state(group)[key], value, rtol=1e-4, atol=1e-5, msg=f"{group} {key}"
            )
    # the 2-rank checkpoint resumes in one process (optimizer states included) like the 1-process one
    longer = {"infd": {"optim": {"steps": 4}}}
    for source, folder in (("one", one_process), ("two", tmp_path)):
        train(str(tmp_path / f"resumed-{source}"), ["infd"], longer, resume=str(folder))
    one, two = (
        load_checkpoint(str(tmp_path / f"resumed-{s}" / "infd" / "checkpoint")) for s in ("one", "two")
    )
    assert two.meta["autoencoder_step"] == one.meta["autoencoder_step"] == 4
    for key, value in one.state("autoencoder").items():
        torch.testing.assert_close(two.state("autoencoder")[key], value, rtol=1e-4, atol=1e-5, msg=key)


@ONE_PROCESS_GROUP
def test_infbrush_two_ranks_with_accumulation_train_like_one_process(
    tmp_path: Path, one_process: Path
) -> None:
    """∞-Brush on 2 ranks x grad_accumulation 3 (global batch 6, one sample per micro-batch), each
    sample's condition dropped by its own draw (probability 0.5, so some micro-batches leave the null
    tokens unused)."""
    one = load_checkpoint(str(one_process / "infbrush" / "checkpoint"))
    two = _train_two_ranks(tmp_path, "infbrush")
    assert two.meta["step"] == one.meta["step"] == 2
    # five biases of the grid U-Net's up path get gradients of ~1e-8, zero up to rounding: Adam
    # turns that rounding noise into steps of up to ±lr (2e-3), the only differences above 1e-5
    # (measured: ≤ 2e-4 on those biases, ≤ 2e-6 elsewhere)
    _assert_same_weights(one, two, "infbrush", atol=5e-4)
    close = [
        k for k, v in one.state("model").items() if float((two.state("model")[k] - v).abs().max()) < 1e-5
    ]
    assert len(close) >= 0.95 * len(one.state("model"))


SAMPLE_ARGS = {
    "infd": ["--num", "2", "--size", "40x24"],
    "infbrush": ["--num", "3", "--size", "32", "--set", "config.sampling.classes=[0,1]"],
}


@ONE_PROCESS_GROUP
@pytest.mark.parametrize("name", NEW)
def test_sample_nproc_2_writes_the_same_bytes_as_one_process(
    tmp_path: Path, one_process: Path, name: str
) -> None:
    """INFD: every rank samples the same z and the ranks render disjoint tiles of each store (6 tiles,
    3 levels); ∞-Brush: ranks take disjoint samples. Every file equals the single-process output."""
    extra = SAMPLE_ARGS[name]
    args = ["sample", str(one_process / name / "checkpoint"), *extra]
    assert run_cli([*args, "--out", str(tmp_path / "one")]) == 0
    result = _run([str(BIN / "infd"), *args, "--out", str(tmp_path / "two"), "--nproc", "2"])
    assert result.returncode == 0, result.stderr[-3000:]
    one, two = store_files(tmp_path / "one"), store_files(tmp_path / "two")
    assert sum(f.endswith(".png") for f in one) == int(extra[1])
    assert len(one) > 10 and one == two


def test_a_rank_reads_only_its_slice_of_the_global_batch() -> None:
    """∞-Diff, ∞-Brush and INFD data: the samples of a slice equal those rows of the whole batch."""
    from infd_infbrush.config import BrushDataConfig
    from infd_infbrush.data import ClassBatches
    from infd_infd.config import DataConfig as InfdData
    from infd_infd.data import PatchBatches
    from infd_inftydiff.config import DataConfig
    from infd_inftydiff.data import ImageBatches

    images = ImageBatches(DataConfig(resolution=8, batch_size=5, num_items=7), seed=3)
    torch.testing.assert_close(images(2, range(3, 5)), images(2)[3:5], rtol=0, atol=0)
    classes = ClassBatches(BrushDataConfig(resolution=8, batch_size=5, num_items=3), seed=3)
    torch.testing.assert_close(classes(1, range(1, 4))[0], classes(1)[0][1:4], rtol=0, atol=0)
    patches = PatchBatches(InfdData(builtin_resolutions=[16], num_items=3, patch_size=8, max_size=16,
                                    batch_size=4), encoder_size=8, seed=3)  # fmt: skip
    torch.testing.assert_close(patches(1, range(2, 4)).patch, patches(1).patch[2:4], rtol=0, atol=0)
    torch.testing.assert_close(patches.encoder_inputs(1, 4, range(1, 2)), patches.encoder_inputs(1, 4)[1:2])
