"""Writes a large uint8 image tile by tile in a subprocess and reports its peak RSS as JSON.

python large_writer.py URL SIZE TILE
"""

from __future__ import annotations

import json
import resource
import sys
import time

from io_helpers import pattern

from infd_io.writer import TiledWriter


def main() -> None:
    url, size, tile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    start = time.perf_counter()
    writer = TiledWriter(url, (3, size, size), "uint8", chunks=256, tile_size=tile, compression="zstd")
    for index in writer.tiles():
        writer.write_tile(index, pattern(*writer.tile_bounds(index)))
    finished = writer.finalize()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    report = {"peak_rss_mb": peak_kib / 1024, "seconds": time.perf_counter() - start, "finished": finished}
    print(json.dumps({**report, "levels": writer.levels}))


if __name__ == "__main__":
    main()
