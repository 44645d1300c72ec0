"""∞-Diff training cost against coordinate subsampling (paper App. C, Tables 4 and 5), in one run.

For 256² data and subsampling 1× (every pixel), 2×, 4×, 8×, it measures one training step (forward,
backward, AdamW) of the multi-scale denoiser: time and peak memory at a fixed batch (Table 5: memory
reduction), and images per second at the largest batch that fits a fixed memory budget (Table 4:
speed-up at fixed memory; on a GPU). Prints the ratios against 1× and writes JSON under results/.

    python benchmarks/inftydiff_train.py                  # GPU: B=16, budget 10 GB, inner grid 64
    python benchmarks/inftydiff_train.py --quick          # CPU smoke run: 64², B=2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from infd_inftydiff.config import InftyDiffConfig
from infd_inftydiff.denoiser import InftyDiffDenoiser
from infd_sparse import CoordinateBatch

PAPER_TABLE4_GRID64 = {4: 1.97, 8: 3.51}  # speed-up at fixed memory, 256², inner grid 64


def step_cost(
    model: InftyDiffDenoiser, batch: int, size: int, rate: int, device: torch.device
) -> tuple[float, int]:
    """Seconds and peak bytes (CUDA; 0 on CPU) of one training step at ``rate`` subsampling."""
    g = torch.Generator().manual_seed(0)
    if rate == 1:
        points = CoordinateBatch.full(batch, (size, size))
    else:
        points = CoordinateBatch.random(batch, (size, size), rate, g)
    points = points.to(device)
    nbrs = model.neighbours(points)
    values = torch.randn(points.num_points, 3, generator=g).to(device)
    target = torch.randn_like(values)
    t = torch.rand(batch, generator=g).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def one_step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = (model(values, points, t, nbrs).float() - target).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    one_step()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    repeats = 5
    start = time.perf_counter()
    for _ in range(repeats):
        one_step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = (time.perf_counter() - start) / repeats
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
    return seconds, peak


def largest_batch(model: InftyDiffDenoiser, size: int, rate: int, device: torch.device, budget: int) -> int:
    """The largest batch whose step stays within ``budget`` bytes (doubling, then bisection)."""
    low, high = 0, 1
    while True:
        try:
            _, peak = step_cost(model, high, size, rate, device)
        except torch.OutOfMemoryError:
            peak = budget + 1
        torch.cuda.empty_cache()
        if peak > budget:
            break
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        try:
            _, peak = step_cost(model, mid, size, rate, device)
        except torch.OutOfMemoryError:
            peak = budget + 1
        torch.cuda.empty_cache()
        low, high = (mid, high) if peak <= budget else (low, mid)
    return low


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--inner-grid", type=int, default=64)
    parser.add_argument("--budget-gb", type=float, default=10.0)
    parser.add_argument("--rates", default="1,2,4,8")
    parser.add_argument("--quick", action="store_true", help="64², B=2, inner grid 16 (CPU smoke run)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "inftydiff_train.json"))
    args = parser.parse_args()
    if args.quick:
        args.size, args.batch, args.inner_grid = 64, 2, 16
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    preset = "paper" if device.type == "cuda" and not args.quick else "tiny"
    config = InftyDiffConfig.model_validate(
        {
            "preset": preset,
            "data": {"resolution": args.size},
            "model": {"grid": {"resolution": args.inner_grid}},
        }
    )
    model = InftyDiffDenoiser(config.model).to(device)
    rows = []
    for rate in (int(r) for r in args.rates.split(",")):
        seconds, peak = step_cost(model, args.batch, args.size, rate, device)
        row = {"rate": rate, "batch": args.batch, "step_s": seconds, "peak_bytes": peak}
        if device.type == "cuda":
            best = largest_batch(model, args.size, rate, device, int(args.budget_gb * 2**30))
            best_seconds, _ = step_cost(model, best, args.size, rate, device) if best else (float("nan"), 0)
            row.update(max_batch=best, images_per_s=best / best_seconds if best else 0.0)
        rows.append(row)
    base = rows[0]
    print(
        f"device: {device}; {args.size}², inner grid {args.inner_grid}, preset {preset}, batch {args.batch}"
    )
    print(
        f"{'rate':>4} {'step ms':>9} {'speed-up':>9} {'peak GB':>8} {'mem. red.':>9} {'max B':>6} "
        f"{'fixed-mem':>9} {'paper':>6}"
    )
    for row in rows:
        speed = base["step_s"] / row["step_s"]
        memory = base["peak_bytes"] / row["peak_bytes"] if row["peak_bytes"] else float("nan")
        fixed = (
            row.get("images_per_s", 0) / base["images_per_s"] if base.get("images_per_s") else float("nan")
        )
        row.update(speedup_fixed_batch=speed, memory_reduction=memory, speedup_fixed_memory=fixed)
        paper = PAPER_TABLE4_GRID64.get(row["rate"])
        print(
            f"{row['rate']:>4} {row['step_s'] * 1e3:9.1f} {speed:9.2f} {row['peak_bytes'] / 2**30:8.2f} "
            f"{memory:9.2f} {row.get('max_batch', '-'):>6} {fixed:9.2f} {paper if paper else '-':>6}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"config": {**vars(args), "device": str(device), "preset": preset}, "rows": rows}, indent=2
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
