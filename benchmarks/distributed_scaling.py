"""1 vs N processes (torchrun; gloo on CPU, NCCL on GPUs): tile-sharded rendering and DDP training.

For each process count it launches ``torchrun --nproc_per_node N`` on this script in worker mode and
measures, inside the ranks (start-up excluded, between barriers):

* render: megapixels/s of a CLIF render streamed into one OME-Zarr store (tiles shared among ranks,
  pyramid built by all ranks), checked byte-identical to the 1-process store;
* train: samples/s of DDP training of a small conv net on a fixed global batch (``infd_core.ddp``),
  final weights checked against the 1-process run.

Prints the numbers side by side with the speed-up over 1 process, and writes JSON to
``benchmarks/results/distributed_scaling-<device>.json``.

    python benchmarks/distributed_scaling.py                 # N = 1, 2 on CPU (or the GPUs)
    python benchmarks/distributed_scaling.py --nproc 1 2 4 --size 2048
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import safetensors.torch
import torch

RESULTS = Path(__file__).parent / "results"
RENDER_CONFIG = {"feature_channels": 8, "hidden_channels": 32, "residual_blocks": 1}  # device-default chunks


def _store_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def worker(args: argparse.Namespace) -> None:
    """One rank: render into a shared store, then train, timing both between barriers."""
    from infd_core import ddp
    from infd_core.devices import resolve_device
    from infd_core.distributed import barrier, exit_rank, init_distributed, shutdown
    from infd_core.seeding import derive_generator, seeded_global_rng
    from infd_render import CLIFConfig, CLIFRenderer, TiledRenderer, ZarrSink

    local = int(os.environ.get("LOCAL_RANK", 0))
    device = resolve_device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    info = init_distributed(device)
    out: dict[str, float | str] = {}

    with seeded_global_rng(0, "renderer"):
        renderer = CLIFRenderer(CLIFConfig(**RENDER_CONFIG)).to(device).eval()
    features = torch.randn(8, 24, 24, generator=derive_generator(0, "features"))
    size = (args.size, args.size)
    best = float("inf")
    for repeat in range(args.repeat):  # best of --repeat: the CPU may be shared with other jobs
        url = str(Path(args.out) / f"render-{repeat}.zarr")
        barrier()
        start = time.perf_counter()
        sink = ZarrSink.create_shared(url, size, 3, "uint8", tile_size=args.tile, chunks=args.tile)
        TiledRenderer(renderer, args.tile).render_to_sink(
            sink, features, size, rank=info.rank, world_size=info.world_size
        )
        sink.finalize()
        barrier()
        best = min(best, time.perf_counter() - start)
    out["render_s"] = best
    out["render_mpix_s"] = size[0] * size[1] / 1e6 / best

    best = float("inf")
    for _ in range(args.repeat):
        with seeded_global_rng(0, "net"):
            net = torch.nn.Sequential(
                torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.SiLU(), torch.nn.Conv2d(32, 3, 3, padding=1)
            ).to(device)
        model = ddp.wrap_ddp(net, info)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        barrier()
        start = time.perf_counter()
        for step in range(args.steps):
            optimizer.zero_grad(set_to_none=True)
            for micro in ddp.plan_step(args.batch, 1, info):
                gens = ddp.sample_generators(0, step, micro.indices)
                x = torch.stack([torch.randn(3, 64, 64, generator=g) for g in gens]).to(device)
                with ddp.accumulate(model, micro):
                    loss = (model(x) - x.flip(-1)).pow(2).mean()
                    (loss * micro.weight).backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        barrier()
        best = min(best, time.perf_counter() - start)
    out["train_s"] = best
    out["train_samples_s"] = args.steps * args.batch / best
    if info.is_main:
        weights = torch.cat([p.detach().flatten().cpu() for p in net.parameters()])
        safetensors.torch.save_file({"weights": weights}, str(Path(args.out) / "weights.safetensors"))
        (Path(args.out) / "timing.json").write_text(json.dumps(out))
    barrier()
    shutdown()
    exit_rank(0)


def launch(nproc: int, args: argparse.Namespace, folder: Path) -> dict[str, float | str]:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
               __file__, "--worker", "--out", str(folder), "--size", str(args.size), "--tile", str(args.tile),
               "--steps", str(args.steps), "--batch", str(args.batch),
               "--repeat", str(args.repeat)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    subprocess.run(command, check=True, timeout=1800, env=env, capture_output=True)
    result = json.loads((folder / "timing.json").read_text())
    result["store_sha256"] = _store_digest(folder / "render-0.zarr")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--size", type=int, default=1024, help="rendered image side (pixels)")
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32, help="global batch of the training part")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many timings")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per rank (OMP_NUM_THREADS)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu"
    counts = [n for n in args.nproc if not torch.cuda.is_available() or n <= torch.cuda.device_count()]
    rows = {}
    weights = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            folder = Path(tmp) / f"n{n}"
            folder.mkdir()
            rows[n] = launch(n, args, folder)
            weights[n] = safetensors.torch.load_file(str(folder / "weights.safetensors"))["weights"]
    base = rows[counts[0]]
    print(f"device: {device} ({os.cpu_count()} CPU cores); render {args.size}² tiles {args.tile}, "
          f"train batch {args.batch} x {args.steps} steps; best of {args.repeat}; "
          f"{args.threads} thread(s) per rank")  # fmt: skip
    print(f"{'procs':>5} {'render MP/s':>12} {'speed-up':>9} {'train samples/s':>16} {'speed-up':>9} "
          f"{'store = 1 proc':>15} {'max |Δw|':>10}")  # fmt: skip
    for n, row in rows.items():
        same = row["store_sha256"] == base["store_sha256"]
        delta = float((weights[n] - weights[counts[0]]).abs().max())
        row["store_identical"], row["max_weight_difference"] = same, delta
        print(f"{n:>5} {row['render_mpix_s']:>12.3f} {row['render_mpix_s'] / base['render_mpix_s']:>9.2f} "
              f"{row['train_samples_s']:>16.1f} {row['train_samples_s'] / base['train_samples_s']:>9.2f} "
              f"{same!s:>15} {delta:>10.2e}")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    tag = "cuda" if torch.cuda.is_available() else "cpu"
    record = {"device": device, "cpu_cores": os.cpu_count(), "args": vars(args), "results": rows}
    path = RESULTS / f"distributed_scaling-{tag}.json"
    path.write_text(json.dumps(record, indent=2, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
