"""Sparse depthwise convolution: Triton vs torch reference vs dense masked cuDNN conv, in one run.

For each subsampling rate and dtype it measures forward and forward+backward time, peak extra device
memory, and the forward's distance from the memory-bandwidth limit (minimal bytes moved ÷ the measured
device copy bandwidth). Prints a table of ratios and writes JSON beside the script (results/).

    python benchmarks/sparse_conv.py                 # B=32, 256², C=64, k=7, rates 1,2,4,8, fp32+bf16
    python benchmarks/sparse_conv.py --quick         # tiny sizes, runs on a CPU too
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from infd_sparse import CoordinateBatch, build_neighbours, depthwise_conv
from infd_sparse.backends.triton_backend import TritonBackend

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median seconds of ``fn`` after one warm-up call."""
    fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def peak_extra_bytes(fn: Callable[[], object], device: torch.device) -> int | None:
    """Peak device memory allocated by ``fn`` beyond what existed before (CUDA only)."""
    if device.type != "cuda":
        return None
    synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    result = fn()
    synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - before
    del result
    return peak


def copy_bandwidth(device: torch.device) -> float:
    """Bytes per second of a large device-to-device copy (read + write counted)."""
    n = (256 if device.type == "cuda" else 32) * 2**20
    src = torch.empty(n, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    seconds = timed(lambda: dst.copy_(src), device, 10)
    return 2 * n / seconds


def run_case(
    args: argparse.Namespace, rate: int, dtype_name: str, device: torch.device, bandwidth: float
) -> list[dict]:
    dtype = DTYPES[dtype_name]
    g = torch.Generator(device="cpu").manual_seed(rate)
    size, channels, k = args.size, args.channels, args.kernel
    points = CoordinateBatch.random(args.batch, (size, size), rate, g).to(device)
    nbrs = build_neighbours(points, kernel_size=k)
    n = points.num_points
    values = torch.randn(n, channels, generator=g).to(device, dtype).requires_grad_()
    weight = torch.randn(channels, k, k, generator=g).to(device, dtype).requires_grad_()

    grid = torch.zeros(args.batch, channels, size, size, device=device, dtype=dtype)
    grid[points.batch, :, points.coords[:, 0], points.coords[:, 1]] = values.detach()
    grid.requires_grad_()
    mask = torch.zeros(args.batch, 1, size, size, device=device, dtype=dtype)
    mask[points.batch, 0, points.coords[:, 0], points.coords[:, 1]] = 1
    count = F.conv2d(mask, torch.ones(1, 1, k, k, device=device, dtype=dtype), padding=k // 2).clamp(min=1)

    def dense_forward() -> torch.Tensor:  # the path a user would otherwise take: full grid, masked, cuDNN
        return F.conv2d(grid * mask, weight[:, None], padding=k // 2, groups=channels) / count

    methods: dict[str, Callable[[], torch.Tensor]] = {"dense": dense_forward}
    methods["torch"] = lambda: depthwise_conv(values, nbrs, weight, backend="torch")
    if TritonBackend().supports(device, dtype):
        methods["triton"] = lambda: depthwise_conv(values, nbrs, weight, backend="triton")

    elem = torch.tensor([], dtype=dtype).element_size()
    min_bytes = 2 * n * channels * elem + nbrs.indices.numel() * 4 + channels * k * k * elem
    output_bytes = n * channels * elem
    rows = []
    for name, forward in methods.items():
        with torch.no_grad():
            fwd = timed(forward, device, args.repeats)
            peak = peak_extra_bytes(forward, device)

        def forward_backward(forward: Callable[[], torch.Tensor] = forward) -> None:
            forward().float().sum().backward()

        fwd_bwd = timed(forward_backward, device, args.repeats)
        rows.append(
            {
                "rate": rate, "dtype": dtype_name, "method": name, "points": n,
                "forward_s": fwd, "forward_backward_s": fwd_bwd,
                "peak_extra_bytes": peak,
                "peak_over_output": None if peak is None else peak / output_bytes,
                "forward_over_bandwidth_limit": fwd / (min_bytes / bandwidth),
            }
        )  # fmt: skip
    dense = next(r for r in rows if r["method"] == "dense")
    for row in rows:
        row["forward_speedup_vs_dense"] = dense["forward_s"] / row["forward_s"]
        row["forward_backward_speedup_vs_dense"] = dense["forward_backward_s"] / row["forward_backward_s"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--kernel", type=int, default=7)
    parser.add_argument("--rates", default="1,2,4,8")
    parser.add_argument("--dtypes", default="fp32,bf16")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="B=2, 64², fp32, 3 repeats (CPU smoke run)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "sparse_conv.json"))
    args = parser.parse_args()
    if args.quick:
        args.batch, args.size, args.repeats, args.dtypes = 2, 64, 3, "fp32"
    device = torch.device(args.device)
    bandwidth = copy_bandwidth(device)
    rows = []
    for dtype_name in args.dtypes.split(","):
        for rate in (int(r) for r in args.rates.split(",")):
            rows.extend(run_case(args, rate, dtype_name, device, bandwidth))

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"device: {name}; copy bandwidth {bandwidth / 1e9:.1f} GB/s; B={args.batch}, {args.size}², "
          f"C={args.channels}, k={args.kernel}")  # fmt: skip
    header = f"{'rate':>4} {'dtype':>5} {'method':>7} {'fwd ms':>8} {'f+b ms':>8} {'fwd×dense':>9} " \
             f"{'f+b×dense':>9} {'fwd/limit':>9} {'peak/out':>8}"  # fmt: skip
    print(header)
    for r in rows:
        peak = "-" if r["peak_over_output"] is None else f"{r['peak_over_output']:.2f}"
        print(
            f"{r['rate']:>4} {r['dtype']:>5} {r['method']:>7} {r['forward_s'] * 1e3:8.2f} "
            f"{r['forward_backward_s'] * 1e3:8.2f} {r['forward_speedup_vs_dense']:9.2f} "
            f"{r['forward_backward_speedup_vs_dense']:9.2f} "
            f"{r['forward_over_bandwidth_limit']:9.1f} {peak:>8}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"device": name, "copy_bandwidth_bytes_per_s": bandwidth, **vars(args)}
    out.write_text(json.dumps({"config": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
