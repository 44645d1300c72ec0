"""Data-parallel helpers: global-batch slices, micro-batch weights, DDP with 2 gloo ranks, launcher."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from infd_core import ddp, distributed, faults, launch
from infd_core.distributed import DistInfo
from infd_core.errors import UsageError
from infd_core.testing import check_ranks, run_local_ranks

# y = w·x + b fitted by SGD on a global batch of 7 (uneven slices), 3 steps, per-sample data
TRAIN = textwrap.dedent(
    """
    import json, sys
    import torch
    from infd_core import ddp, distributed

    info = distributed.init_distributed(torch.device("cpu"), timeout_s=60)
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 1)
    model = ddp.wrap_ddp(net)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    logged = []
    for step in range(3):
        optimizer.zero_grad()
        meter = ddp.LossMeter()
        for micro in ddp.plan_step(7, int(sys.argv[2])):
            gens = ddp.sample_generators(5, step, micro.indices)
            x = torch.stack([torch.randn(3, generator=g) for g in gens])
            y = x.sum(1, keepdim=True) + 1
            with ddp.accumulate(model, micro):
                loss = ((model(x) - y) ** 2).mean()
                (loss * micro.weight).backward()
            meter.add(loss.detach(), len(micro.indices))
        optimizer.step()
        logged.append(meter.mean()["loss"])
    if info.is_main:
        weights = torch.cat([p.detach().flatten() for p in net.parameters()]).tolist()
        with open(sys.argv[1], "w") as handle:
            json.dump({"weights": weights, "losses": logged}, handle)
    distributed.barrier()
    distributed.shutdown()
    distributed.exit_rank(0)
    """
)


def _launch(script, out, world: int, accumulation: int) -> None:
    check_ranks(run_local_ranks([sys.executable, str(script), str(out), str(accumulation)], world))


def test_two_ranks_with_accumulation_train_like_one_process(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    _launch(script, tmp_path / "one.json", 1, 1)
    _launch(script, tmp_path / "two.json", 2, 2)
    one, two = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    torch.testing.assert_close(torch.tensor(two["weights"]), torch.tensor(one["weights"]))
    torch.testing.assert_close(torch.tensor(two["losses"]), torch.tensor(one["losses"]))


@pytest.mark.parametrize(("batch", "world", "accumulation"), [(7, 3, 2), (8, 2, 1), (5, 1, 3), (6, 6, 1)])
def test_plan_covers_the_global_batch_once_with_weights_summing_to_world(batch, world, accumulation):
    seen, total = [], 0.0
    for rank in range(world):
        plan = ddp.plan_step(batch, accumulation, DistInfo(rank, world))
        assert len(plan) == accumulation and all(len(m.indices) for m in plan)
        assert [m.last for m in plan] == [False] * (accumulation - 1) + [True]
        assert list(ddp.global_batch_slice(batch, rank, world)) == [i for m in plan for i in m.indices]
        seen += [i for m in plan for i in m.indices]
        total += sum(m.weight for m in plan)
    assert seen == list(range(batch))
    assert total == pytest.approx(world)


def test_plan_refuses_a_batch_too_small_for_the_ranks():
    with pytest.raises(UsageError, match="smaller than world size 4 x grad_accumulation 2"):
        ddp.plan_step(7, 2, DistInfo(0, 4))


def test_single_process_helpers_are_identities():
    net = torch.nn.Linear(2, 1)
    assert ddp.wrap_ddp(net) is net and ddp.unwrap(net) is net
    meter = ddp.LossMeter()
    meter.add(torch.tensor(2.0), 1)
    meter.add({"loss": 5.0}, 3)
    assert meter.mean() == {"loss": pytest.approx(17 / 4)}
    values = torch.arange(3.0)
    assert torch.equal(ddp.all_reduce_sum(values), values)
    assert distributed.gather_lists(["a"]) == ["a"]
    a, b = ddp.sample_generators(1, 2, [3, 3])
    assert torch.equal(torch.rand(2, generator=a), torch.rand(2, generator=b))


def test_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(distributed.TIMEOUT_VAR, raising=False)
    assert distributed.dist_timeout_s() == 600.0
    monkeypatch.setenv(distributed.TIMEOUT_VAR, "12.5")
    assert distributed.dist_timeout_s() == 12.5
    monkeypatch.setenv(distributed.TIMEOUT_VAR, "soon")
    with pytest.raises(UsageError, match="INFD_DIST_TIMEOUT"):
        distributed.dist_timeout_s()


def test_fault_point_fails_only_the_named_rank_at_the_named_pass(monkeypatch):
    monkeypatch.setattr(faults, "_counts", {})
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv(faults.FAULT_VAR, "tile:1:2")
    faults.fault_point("tile")
    faults.fault_point("other")
    faults.fault_point("tile")
    with pytest.raises(faults.InjectedFault, match="tile #2 on rank 1"):
        faults.fault_point("tile")
    monkeypatch.setenv("RANK", "0")
    faults.fault_point("tile")


def test_launcher_arguments_drop_nproc(monkeypatch):
    argv = ["-v", "sample", "ckpt", "--nproc", "2", "--num", "3", "--nproc=4"]
    assert launch.strip_nproc(argv) == ["-v", "sample", "ckpt", "--num", "3"]
    assert launch.torchrun_args(2, argv)[:5] == ["--standalone", "--nproc_per_node", "2", "-m", "infd_core"]
    monkeypatch.setenv("RANK", "0")
    for var in ("WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.setenv(var, "1")
    with pytest.raises(UsageError, match="already runs under torchrun"):
        launch.launch(2, argv)


def test_accumulate_gradients_equals_one_full_batch_backward() -> None:
    """Three weighted micro-batches of a global batch of 7 give the full batch's mean-loss gradient."""
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 1).double()
    x, y = torch.randn(7, 3, dtype=torch.float64), torch.randn(7, 1, dtype=torch.float64)
    full = ((net(x) - y) ** 2).mean()
    full.backward()
    expected = [p.grad.clone() for p in net.parameters()]
    full_loss = float(full.detach())
    net.zero_grad()
    plan = ddp.plan_step(7, 3, DistInfo(rank=0, world_size=1, local_rank=0))
    losses = ddp.accumulate_gradients(
        net, plan, lambda micro: ((net(x[micro.indices]) - y[micro.indices]) ** 2).mean(), step=0
    )
    for got, want in zip((p.grad for p in net.parameters()), expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert losses["loss"] == pytest.approx(full_loss, rel=1e-12)
    with pytest.raises(FloatingPointError, match="at step 4"):
        ddp.accumulate_gradients(net, plan, lambda micro: torch.tensor(float("nan")), step=4)


def test_a_torchrun_rank_exits_with_its_status_and_flushed_output():
    code = (
        "import atexit, sys; import torch.distributed; from infd_core.cli.main import main; "
        "atexit.register(lambda: print('finalised', file=sys.stderr)); sys.argv = ['infd', '--help']; main()"
    )
    env = {**os.environ, **dict.fromkeys(distributed.TORCHRUN_VARS, "0")}  # as torchrun starts a rank
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Usage: infd" in done.stdout  # buffered pipe output is not lost
    assert "finalised" not in done.stderr  # the rank skipped interpreter finalisation
    env = {k: v for k, v in os.environ.items() if k not in distributed.TORCHRUN_VARS}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "finalised" in done.stderr  # outside torchrun: a normal exit
    code = "import sys; from infd_core.distributed import exit_rank; print('partial', end=''); exit_rank(3)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (3, "partial")


def test_the_failure_log_names_the_rank_that_recorded_first(tmp_path, monkeypatch):
    log = tmp_path / "failures"
    monkeypatch.setenv(launch.FAILURE_LOG_VAR, str(log))
    assert launch.first_recorded_failure(str(log)) is None  # nothing recorded: the agent's guess
    for var, value in {"WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "h", "MASTER_PORT": "1"}.items():
        monkeypatch.setenv(var, value)
    for rank in ("1", "0"):  # rank 1 fails, then rank 0 because of it
        monkeypatch.setenv("RANK", rank)
        launch.record_failure()
    assert log.read_text().count("\n") == 2
    assert launch.first_recorded_failure(str(log)) == 1
