"""The local-rank launcher used by multi-process tests: torchrun variables, port clashes, failures."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from infd_core import testing
from infd_core.testing import check_ranks, run_local_ranks

REPORT = textwrap.dedent(
    """
    import json, os, sys
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    print(json.dumps({name: os.environ.get(name) for name in names}))
    """
)

# Fails like a taken rendezvous port on the first start of rank 1, succeeds on later starts.
CLASH_ONCE = textwrap.dedent(
    """
    import os, pathlib, sys
    marker = pathlib.Path(sys.argv[1])
    if os.environ["RANK"] == "1" and not marker.exists():
        marker.write_text("x")
        sys.exit("RuntimeError: The server socket has failed to listen: Address already in use")
    print(os.environ["MASTER_PORT"])
    """
)


def test_ranks_get_the_torchrun_environment_and_one_process_gets_none(tmp_path):
    script = tmp_path / "report.py"
    script.write_text(REPORT)
    ranks = run_local_ranks([sys.executable, str(script)], 3)
    check_ranks(ranks)
    seen = [json.loads(r.stdout) for r in ranks]
    assert [s["RANK"] for s in seen] == ["0", "1", "2"] and {s["WORLD_SIZE"] for s in seen} == {"3"}
    assert len({s["MASTER_PORT"] for s in seen}) == 1
    alone = run_local_ranks([sys.executable, str(script)], 1, env={"RANK": "5", "PATH": ""})
    assert set(json.loads(alone[0].stdout).values()) == {None}


def test_a_port_clash_starts_the_group_again(tmp_path):
    script = tmp_path / "clash.py"
    script.write_text(CLASH_ONCE)
    ranks = run_local_ranks([sys.executable, str(script), str(tmp_path / "marker")], 2)
    check_ranks(ranks)
    assert ranks[0].stdout == ranks[1].stdout  # both ranks of the second start share one port


def test_other_failures_are_reported_with_stderr(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("import os, sys\nif os.environ['RANK'] == '1': sys.exit('broken rank')\n")
    ranks = run_local_ranks([sys.executable, str(script)], 2, attempts=3)
    assert [r.returncode for r in ranks] == [0, 1]
    with pytest.raises(AssertionError, match="rank 1 exited 1:\nbroken rank"):
        check_ranks(ranks)


def test_ranks_left_waiting_by_a_failed_rank_are_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(testing, "FAILED_RANK_GRACE_S", 0.5)
    script = tmp_path / "hang.py"
    script.write_text("import os, sys, time\nif os.environ['RANK'] == '0': sys.exit(4)\ntime.sleep(600)\n")
    ranks = run_local_ranks([sys.executable, str(script)], 2, timeout=300)
    assert ranks[0].returncode == 4 and ranks[1].returncode < 0  # killed after the grace period
