"""∞-Diff sampling at any size: seconds per DDIM step and peak memory against the output size.

Uses the demo checkpoint shipped with infd-inftydiff (trained at 32²). For each size it starts a fresh
process (so peak RSS is that size's own) that times one denoiser evaluation of a DDIM step over every
pixel, by the path sampling uses (``tiles``: dense conv2d/FFT kernels tile by tile, infd-sparse
``GridTiles``) and, where it fits, the path a user had before (``neighbours``: the whole image as one
point set through a neighbour map of N·k² entries). Prints a table with the speed-up and the fitted
exponent of time against N (from 256² up), and writes JSON under ``results/``.

    python benchmarks/inftydiff_sample.py                      # 64² … 4096², neighbour maps up to 256²
    python benchmarks/inftydiff_sample.py --device cuda --sizes 256 4096 16384 --out results/x.json

Out of core (``--out-of-core 2048 4096 8192``): one DDIM step of the streamed sampler (state, stage
outputs and reductions through a zarr scratch store, ``--memory-budget``), seconds and peak RSS per size
in fresh processes, beside the in-memory step where its estimate fits the machine, and the ratio of
peak RSS from the smallest to the largest size against the ratio of their pixels (the budget is fixed).

    python benchmarks/inftydiff_sample.py --sizes --out-of-core 2048 4096 8192
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def child(size: int, path: str, device: str, tile_points: int, repeats: int) -> dict[str, float]:
    """One size, one path, in this process: seconds per evaluation and peak memory."""
    import torch

    from infd_core.checkpoints import load_checkpoint
    from infd_inftydiff.demo import checkpoint_path
    from infd_inftydiff.denoiser import InftyDiffDenoiser
    from infd_inftydiff.model_config import DenoiserConfig
    from infd_inftydiff.sampling import GridDenoiser
    from infd_measures.discrete import DiscreteSchedule
    from infd_sparse import CoordinateBatch

    checkpoint = load_checkpoint(checkpoint_path())
    model = InftyDiffDenoiser(DenoiserConfig(**checkpoint.config["config"]["model"]))
    model.load_state_dict(checkpoint.state("ema"))
    model = model.eval().to(device)
    schedule = DiscreteSchedule.cosine(1000)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)
    t = torch.tensor([500], device=device)
    if path == "tiles":
        denoiser = GridDenoiser(model, schedule, tile_points=tile_points)

        def step() -> None:
            denoiser(x, t)
    else:
        points = CoordinateBatch.full(1, (size, size), device=device)
        values = x.permute(0, 2, 3, 1).reshape(-1, 3)

        def step() -> None:  # what sampling did before: build the map once per shape, then evaluate
            model(values, points, t.float() / 1000, model.neighbours(points))

    times = []
    with torch.no_grad():
        for _ in range(repeats):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            step()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    peak_gpu = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None
    return {
        "seconds": min(times),
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "peak_gpu_gib": peak_gpu,
        "kernel": model.kernel_size_at((size, size)),
    }


def child_streamed(size: int, device: str, budget: str) -> dict[str, float]:
    """One out-of-core DDIM step at ``size`` in this process: seconds and peak memory."""
    import tempfile

    import torch

    from infd_core.checkpoints import load_checkpoint
    from infd_core.draws import randn_rows
    from infd_core.preflight import resolve_memory_budget
    from infd_inftydiff.demo import checkpoint_path
    from infd_inftydiff.denoiser import InftyDiffDenoiser
    from infd_inftydiff.model_config import DenoiserConfig
    from infd_inftydiff.streamed_sampling import StreamedRun, streamed_step, streaming_geometry
    from infd_io.scratch import ScratchStore
    from infd_measures.discrete import DiscreteSchedule
    from infd_sparse.streamed import plan_tiles

    checkpoint = load_checkpoint(checkpoint_path())
    model = InftyDiffDenoiser(DenoiserConfig(**checkpoint.config["config"]["model"]))
    model.load_state_dict(checkpoint.state("ema"))
    model = model.eval().to(device)
    with tempfile.TemporaryDirectory(prefix="infd-bench-") as folder:
        run = StreamedRun(folder + "/state", resolve_memory_budget(budget, device), device=device)
        geometry = streaming_geometry(model, (size, size))
        plan = plan_tiles(1, (size, size), geometry["halo"], run.tile_budget, geometry["point_bytes"],
                          geometry["channels"])  # fmt: skip
        store = ScratchStore(run.scratch_url)
        shape, chunks = (1, 3, size, size), (1, 1, plan.chunk, plan.chunk)
        source, target = store.allocate("x-0", shape, chunks), store.allocate("x-1", shape, chunks)
        for plane, top, band in randn_rows((3, size, size), torch.Generator().manual_seed(0), plan.chunk):
            source[0, plane, top : top + band.shape[0]] = band.numpy()
        start = time.perf_counter()
        streamed_step(
            lambda ev, values, t: model.evaluate(ev, values, t, (size, size)),
            DiscreteSchedule.cosine(1000), source, target, 500, 490, plan, geometry["halo"], store, run,
        )  # fmt: skip
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "budget_gib": run.memory_budget / 2**30,
        "local_tile": plan.local,
        "kernel": model.kernel_size_at((size, size)),
    }


def in_memory_fits(size: int) -> bool:
    """Whether the in-memory step's estimate fits the memory this machine has available."""
    from infd_core.preflight import available_memory
    from infd_inftydiff.model_config import DenoiserConfig
    from infd_inftydiff.sampling import estimate_resources

    available = available_memory("cpu") or 0
    return (
        estimate_resources(DenoiserConfig(sparse_channels=16), (size, size), 1, 1, 1 << 20).memory_bytes
        < available
    )


def out_of_core_table(args: argparse.Namespace) -> list[dict]:
    """The out-of-core rows beside the in-memory step, and the ratio of peak RSS across sizes."""
    rows = []
    print(f"{'size':>6} {'k':>5} {'out-of-core s':>14} {'RSS GiB':>8} {'in-memory s':>12} {'RSS GiB':>8}")
    for size in args.out_of_core:
        streamed = measure(size, "streamed", args)
        if streamed is None:
            break
        memory = measure(size, "tiles", args) if in_memory_fits(size) else None
        rows.append({"size": size, "streamed": streamed, "in_memory": memory})
        mem = (
            f"{memory['seconds']:12.1f} {memory['peak_rss_gib']:8.2f}"
            if memory
            else f"{'(does not fit)':>12} {'—':>8}"
        )
        ours = f"{streamed['seconds']:14.1f} {streamed['peak_rss_gib']:8.2f}"
        print(f"{size:>5}² {streamed['kernel']:>5} {ours} {mem}")
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        growth = last["streamed"]["peak_rss_gib"] / first["streamed"]["peak_rss_gib"]
        pixels = (last["size"] / first["size"]) ** 2
        print(f"peak RSS {last['size']}² / {first['size']}²: {growth:.2f}× for {pixels:.0f}× the pixels "
              f"(memory budget {first['streamed']['budget_gib']:.2f} GiB at every size: 1.00×)")  # fmt: skip
    return rows


def measure(size: int, path: str, args: argparse.Namespace) -> dict[str, float] | None:
    command = [sys.executable, __file__, "--child", str(size), path, "--device", args.device]
    command += ["--tile-points", str(args.tile_points), "--repeats", str(args.repeats)]
    command += ["--memory-budget", args.memory_budget]
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    if done.returncode != 0:
        print(f"  {path} at {size}²: failed ({done.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def fitted_exponent(rows: list[dict], low: int) -> float:
    """Least-squares slope of log(seconds) against log(N) over the sizes ≥ ``low``."""
    pts = [(math.log(r["size"] ** 2), math.log(r["tiles"]["seconds"])) for r in rows if r["size"] >= low]
    if len(pts) < 2:
        return float("nan")
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    return sum((a - mx) * (b - my) for a, b in pts) / sum((a - mx) ** 2 for a, _ in pts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[64, 128, 256, 512, 1024, 2048, 4096])
    parser.add_argument("--neighbour-max", type=int, default=256, help="largest size for neighbour maps")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tile-points", type=int, default=1 << 20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--out", type=Path, help="JSON file (default: results/inftydiff_sample-DEVICE.json)")
    parser.add_argument("--out-of-core", type=int, nargs="*", default=[], help="sizes of out-of-core rows")
    parser.add_argument("--memory-budget", default="auto", help="out-of-core budget (e.g. 1.5GiB)")
    parser.add_argument("--child", nargs=2, metavar=("SIZE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        size, path = int(args.child[0]), args.child[1]
        if path == "streamed":
            print(json.dumps(child_streamed(size, args.device, args.memory_budget)))
        else:
            print(json.dumps(child(size, path, args.device, args.tile_points, args.repeats)))
        return

    streamed_rows = out_of_core_table(args) if args.out_of_core else []
    rows = []
    columns = [("size", 6), ("k", 5), ("tiles s/step", 13), ("RSS GiB", 8), ("neighbours s", 13)]
    columns += [("RSS GiB", 8), ("speed-up", 9)]
    if args.sizes:
        print(" ".join(f"{name:>{width}}" for name, width in columns))
    for size in args.sizes:
        tiles = measure(size, "tiles", args)
        if tiles is None:
            break
        nbrs = measure(size, "neighbours", args) if size <= args.neighbour_max else None
        rows.append({"size": size, "tiles": tiles, "neighbours": nbrs})
        n_s = f"{nbrs['seconds']:13.3f} {nbrs['peak_rss_gib']:8.2f}" if nbrs else f"{'—':>13} {'—':>8}"
        ratio = f"{nbrs['seconds'] / tiles['seconds']:8.1f}×" if nbrs else f"{'—':>9}"
        ours = f"{tiles['seconds']:13.3f} {tiles['peak_rss_gib']:8.2f}"
        print(f"{size:>5}² {tiles['kernel']:>5} {ours} {n_s} {ratio}")
    exponent = fitted_exponent(rows, 256)
    print(f"fitted exponent of seconds per step against N (sizes ≥ 256²): {exponent:.3f}")
    report = {
        "machine": platform.processor() or platform.machine(),
        "device": args.device,
        "tile_points": args.tile_points,
        "rows": rows,
        "exponent_from_256": exponent,
        "out_of_core": streamed_rows,
    }
    out = args.out or RESULTS / f"inftydiff_sample-{args.device.split(':')[0]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
