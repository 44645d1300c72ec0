"""``infd_io.sharded`` with two gloo ranks: one store, disjoint tiles, the bytes of one process."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

from io_helpers import pattern, store_files

from infd_core.testing import check_ranks, run_local_ranks
from infd_io.sharded import my_tiles, open_shared_writer, write_shared
from infd_io.writer import TiledWriter

SHAPE, TILE, CHUNKS = (3, 200, 136), 32, 16

RANK = textwrap.dedent(
    f"""
    import sys
    import torch
    sys.path.insert(0, {str(Path(__file__).parent)!r})
    from io_helpers import pattern
    from infd_core import distributed
    from infd_io.sharded import finalize_shared, open_shared_writer, write_shared

    distributed.init_distributed(torch.device("cpu"), timeout_s=60)
    writer = open_shared_writer(sys.argv[1], {SHAPE}, "uint8", {CHUNKS}, tile_size={TILE})
    assert writer.eager_pyramid is False
    write_shared(writer, lambda index: pattern(*writer.tile_bounds(index)))
    assert finalize_shared(writer)
    distributed.barrier()
    distributed.shutdown()
    distributed.exit_rank(0)
    """
)


def test_two_ranks_write_one_store_with_the_bytes_of_one_process(tmp_path: Path) -> None:
    reference = str(tmp_path / "one" / "image.zarr")  # both stores named "image": equal metadata too
    writer = TiledWriter(reference, SHAPE, "uint8", CHUNKS, tile_size=TILE)
    for index in writer.tiles():
        writer.write_tile(index, pattern(*writer.tile_bounds(index)))
    assert writer.finalize()

    script = tmp_path / "rank.py"
    script.write_text(RANK)
    url = str(tmp_path / "two" / "image.zarr")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    check_ranks(run_local_ranks([sys.executable, str(script), url], 2, env=env))
    assert store_files(url) == store_files(reference)


def test_single_process_share_is_every_pending_tile(tmp_path: Path) -> None:
    writer = open_shared_writer(str(tmp_path / "a.zarr"), SHAPE, "uint8", CHUNKS, tile_size=TILE)
    assert writer.eager_pyramid and my_tiles(writer) == writer.tiles()
    first = writer.tiles()[:3]
    assert write_shared(writer, lambda index: pattern(*writer.tile_bounds(index))) == len(writer.tiles())
    reopened = open_shared_writer(str(tmp_path / "a.zarr"), SHAPE, "uint8", CHUNKS, tile_size=TILE)
    assert reopened.resumed and reopened.pending_at_open == [] and first
