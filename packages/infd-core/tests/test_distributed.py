"""torch.distributed helpers with two gloo processes on CPU, started the way torchrun starts them."""

from __future__ import annotations

import json
import sys
import textwrap

import torch

from infd_core import distributed
from infd_core.seeding import tile_generator
from infd_core.testing import check_ranks, run_local_ranks

WORKER = textwrap.dedent(
    """
    import json, sys
    import torch
    import torch.distributed as dist
    from infd_core import distributed
    from infd_core.seeding import tile_generator

    info = distributed.init_distributed(torch.device("cpu"), timeout_s=60)
    tiles = list(distributed.shard(7, info))
    values = torch.zeros(7)
    for t in tiles:
        values[t] = torch.rand(1, generator=tile_generator(5, t)).item()
    dist.all_reduce(values)
    distributed.barrier()
    result = [info.rank, info.world_size, info.backend, tiles, values.tolist()]
    with open(sys.argv[1].format(rank=info.rank), "w") as handle:
        json.dump(result, handle)
    distributed.shutdown()
    distributed.exit_rank(0)
    """
)


def test_two_gloo_ranks_share_tiles_disjointly(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    check_ranks(run_local_ranks([sys.executable, str(script), str(tmp_path / "r{rank}.json")], 2))
    r0, r1 = (json.loads((tmp_path / f"r{rank}.json").read_text()) for rank in range(2))
    assert r0[:3] == [0, 2, "gloo"] and r1[:3] == [1, 2, "gloo"]
    assert sorted(r0[3] + r1[3]) == list(range(7)) and not set(r0[3]) & set(r1[3])
    single = [torch.rand(1, generator=tile_generator(5, t)).item() for t in range(7)]
    assert r0[4] == r1[4]
    assert torch.allclose(torch.tensor(r0[4]), torch.tensor(single))


def test_single_process_is_rank_zero_of_one(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    info = distributed.init_distributed()
    assert (info.rank, info.world_size, info.is_main, info.distributed) == (0, 1, True, False)
    assert list(distributed.shard(3)) == [0, 1, 2]
