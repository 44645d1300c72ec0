"""Tiled OME-Zarr writing: ``TiledWriter`` vs plain zarr assignment vs a raw copy of the same bytes.

One run, the same tiles for every method (generated before timing):

* ``TiledWriter``: NGFF metadata, level-0 tiles, the pyramid built while tiles arrive, the completion
  record (what infd writes);
* ``TiledWriter, 1 level``: the same without a pyramid (isolates the record and metadata overhead);
* ``zarr assignment``: ``array[:, y0:y1, x0:x1] = tile`` into one zarr v3 array with the same chunks,
  shards and codec (what a user would write by hand, without pyramid, resume or metadata);
* ``raw copy``: ``shutil.copyfile`` of a file holding the raw image bytes (the disk / page-cache limit).

Throughput is raw level-0 image bytes per second. Prints a table of ratios and writes JSON beside the
script (``results/zarr_write.json``).

    python benchmarks/zarr_write.py                      # 8192² × 3 uint8, tiles 1024, chunks 256
    python benchmarks/zarr_write.py --size 4096 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec, BloscShuffle

from infd_io.tiling import TileGrid
from infd_io.writer import TiledWriter


def make_tiles(size: int, tile: int, seed: int = 0) -> list[tuple[tuple[int, int], tuple, np.ndarray]]:
    """Photo-like tiles (smooth structure + noise, so codecs have realistic work), in tile order."""
    grid = TileGrid((3, size, size), tile, 1)
    rng = np.random.default_rng(seed)
    tiles = []
    for index in grid.tiles(0):
        (y0, y1), (x0, x1) = bounds = grid.bounds(0, index)
        y = np.arange(y0, y1, dtype=np.float32)[:, None]
        x = np.arange(x0, x1, dtype=np.float32)[None, :]
        smooth = 127 + 60 * np.sin(y / 97.0) * np.cos(x / 131.0) + 40 * np.sin((x + y) / 57.0)
        planes = [smooth + 20 * c + rng.normal(0, 6, smooth.shape) for c in range(3)]
        tiles.append((index, bounds, np.clip(np.stack(planes), 0, 255).astype(np.uint8)))
    return tiles


def with_tiled_writer(levels: int | None) -> Callable[..., None]:
    def write(url: str, tiles: list, args: argparse.Namespace, compression: str) -> None:
        size = args.size
        writer = TiledWriter(
            url, (3, size, size), "uint8", args.chunks, levels, tile_size=args.tile, compression=compression
        )
        for index, _, data in tiles:
            writer.write_tile(index, data)
        writer.finalize()

    return write


def with_zarr_assignment(url: str, tiles: list, args: argparse.Namespace, compression: str) -> None:
    compressors = None
    if compression != "none":
        cname, clevel = {"zstd": ("zstd", 3), "lz4": ("lz4", 5)}[compression]
        compressors = BloscCodec(cname=cname, clevel=clevel, shuffle=BloscShuffle.shuffle)
    array = zarr.create_array(
        zarr.storage.LocalStore(url),
        shape=(3, args.size, args.size),
        dtype="uint8",
        chunks=(3, args.chunks, args.chunks),
        shards=(3, args.tile, args.tile) if args.tile > args.chunks else None,
        compressors=compressors,
        fill_value=0,
        dimension_names=("c", "y", "x"),
    )
    for _, ((y0, y1), (x0, x1)), data in tiles:
        array[:, y0:y1, x0:x1] = data


def timed(method: Callable[[str], None], workdir: Path, repeats: int) -> float:
    """Best wall-clock seconds over ``repeats`` runs, each into a fresh folder."""
    best = float("inf")
    for attempt in range(repeats):
        target = workdir / f"out-{attempt}"
        start = time.perf_counter()
        method(str(target))
        best = min(best, time.perf_counter() - start)
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=8192, help="image side (pixels)")
    parser.add_argument("--tile", type=int, default=1024, help="tile = shard side")
    parser.add_argument("--chunks", type=int, default=256, help="chunk side")
    parser.add_argument(
        "--compressions", nargs="+", default=["none", "zstd"], choices=["none", "zstd", "lz4"]
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "zarr_write.json"))
    args = parser.parse_args()

    tiles = make_tiles(args.size, args.tile)
    image_bytes = sum(t[2].nbytes for t in tiles)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
        workdir = Path(scratch)
        source = workdir / "raw.bin"
        with open(source, "wb") as handle:
            for *_, data in tiles:
                handle.write(data.tobytes())
        raw = timed(lambda out: shutil.copyfile(source, out), workdir, args.repeats)
        for compression in args.compressions:
            methods = {
                "TiledWriter": with_tiled_writer(None),
                "TiledWriter, 1 level": with_tiled_writer(1),
                "zarr assignment": with_zarr_assignment,
            }
            times = {
                name: timed(
                    lambda out, m=method, c=compression: m(out, tiles, args, c), workdir, args.repeats
                )
                for name, method in methods.items()
            }
            for name, seconds in times.items():
                rows.append(
                    {
                        "method": name,
                        "compression": compression,
                        "seconds": seconds,
                        "MB_per_s": image_bytes / seconds / 1e6,
                        "time_vs_zarr_assignment": seconds / times["zarr assignment"],
                        "time_vs_raw_copy": seconds / raw,
                    }
                )
        rows.append(
            {
                "method": "raw copy",
                "compression": "none",
                "seconds": raw,
                "MB_per_s": image_bytes / raw / 1e6,
                "time_vs_zarr_assignment": None,
                "time_vs_raw_copy": 1.0,
            }
        )

    print(f"{args.size}² × 3 uint8 ({image_bytes / 1e6:.0f} MB), tiles {args.tile}, chunks {args.chunks}")
    print(f"{'method':<22} {'codec':<6} {'seconds':>8} {'MB/s':>8} {'× zarr':>8} {'× raw copy':>10}")
    for row in rows:
        vs_zarr = "-" if row["time_vs_zarr_assignment"] is None else f"{row['time_vs_zarr_assignment']:.2f}"
        print(
            f"{row['method']:<22} {row['compression']:<6} {row['seconds']:>8.2f} {row['MB_per_s']:>8.0f} "
            f"{vs_zarr:>8} {row['time_vs_raw_copy']:>10.1f}"
        )
    report = {
        "benchmark": "zarr_write",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "image": {"size": args.size, "channels": 3, "dtype": "uint8", "bytes": image_bytes},
        "tile": args.tile,
        "chunks": args.chunks,
        "zarr": zarr.__version__,
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
