"""Writes tiles of a test store in a subprocess; can SIGKILL itself at a chosen point.

python tile_worker.py URL --shape C H W --tile T --chunks C --order-seed S [--rank R --ranks N]
    [--events FILE] [--kill-at K --kill-phase before-tile|after-data|in-pyramid] [--finalize]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys

from io_helpers import append_event_line, pattern

from infd_io.writer import TiledWriter


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--shape", type=int, nargs=3, required=True)
    parser.add_argument("--tile", type=int, required=True)
    parser.add_argument("--chunks", type=int, required=True)
    parser.add_argument("--order-seed", type=int, default=0)
    parser.add_argument("--rank", type=int, default=0)
    parser.add_argument("--ranks", type=int, default=1)
    parser.add_argument("--events")
    parser.add_argument("--kill-at", type=int, default=-1)
    parser.add_argument("--kill-phase", default="before-tile")
    parser.add_argument("--finalize", action="store_true")
    args = parser.parse_args()

    callback = (lambda event: append_event_line(args.events, event)) if args.events else None
    writer = TiledWriter(
        args.url,
        tuple(args.shape),
        "uint8",
        args.chunks,
        tile_size=args.tile,
        on_tile_written=callback,
        rank=args.rank,
    )
    order = writer.tiles()
    random.Random(args.order_seed).shuffle(order)
    mine = [index for k, index in enumerate(order) if k % args.ranks == args.rank]
    pending = set(writer.pending_tiles())
    todo = [index for index in mine if index in pending]

    target = {"armed": False}
    mark_done = writer.record.mark_done

    def mark_then_maybe_die(level: int, index: tuple[int, int]) -> None:
        if target["armed"] and (
            (args.kill_phase == "after-data" and level == 0)
            or (args.kill_phase == "in-pyramid" and level > 0)
        ):
            die()
        mark_done(level, index)

    writer.record.mark_done = mark_then_maybe_die  # type: ignore[method-assign]
    for k, index in enumerate(todo):
        if k == args.kill_at:
            if args.kill_phase == "before-tile":
                die()
            target["armed"] = True
        writer.write_tile(index, pattern(*writer.tile_bounds(index)))
    target["armed"] = False
    if args.kill_at >= 0:  # the kill point was never reached: make that visible to the test
        sys.exit(3)
    if args.finalize:
        writer.finalize()


if __name__ == "__main__":
    main()
