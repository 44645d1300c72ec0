"""∞-Brush's linear cross-attention operator vs softmax attention (scaled_dot_product_attention), in one run.

For N query points (4k … 1M by default) it times one forward pass and reads its peak extra memory:

* ``self``: the keys and values are the N points themselves (M = N, the self-attention operator and the
  coordinate-embedding source): linear attention is O(N d²), softmax attention O(N² d);
* ``cross``: M = 256 condition tokens (the cross-attention operator's condition source): both are linear
  in N, the ratio is the constant factor.

Both methods run the same projections (query, key, value, output) around the attention itself. Each
case runs in a fresh subprocess so that its peak memory (CPU: the high-water mark of the resident set
over the op; CUDA: ``max_memory_allocated``) is its own. Softmax attention is skipped where its time,
extrapolated from the previous size (∝ N·M), would exceed ``--softmax-budget`` seconds, or on CUDA where
an N × M score matrix would not fit in free memory (CPU's fused kernel tiles it; a case that fails is
reported with its error). Prints a table with ratios and the
fitted slope of log time against log N (1 = linear), and writes JSON to results/.

    python benchmarks/cross_attention.py                      # N = 4k … 1M on the current device
    python benchmarks/cross_attention.py --max-points 262144  # cap the sizes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from infd_infbrush.attention import LinearCrossAttention, TokenSet

SIZES = [4096, 16384, 65536, 262144, 1048576]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class SoftmaxCrossAttention(nn.Module):
    """The path a user would otherwise take: the same projections around scaled_dot_product_attention."""

    def __init__(self, channels: int, source_dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.heads, width = heads, heads * head_dim
        self.norm = nn.LayerNorm(channels)
        self.query = nn.Linear(channels, width)
        self.key = nn.Linear(source_dim, width)
        self.value = nn.Linear(source_dim, width)
        self.out = nn.Linear(width, channels)

    def forward(self, h: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(1, x.shape[0], self.heads, -1).transpose(1, 2)  # [1, H, N, d]

        q = heads(self.query(self.norm(h)))
        z = F.scaled_dot_product_attention(q, heads(self.key(source)), heads(self.value(source)))
        return self.out(z.transpose(1, 2).reshape(h.shape[0], -1))


def max_rss_bytes() -> int:
    """The process's resident-set high-water mark (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(case: dict) -> dict:
    """Time one (method, scenario, N) forward pass and measure its peak extra memory."""
    if case["threads"]:
        torch.set_num_threads(case["threads"])
    device = torch.device(case["device"])
    torch.manual_seed(0)
    n, c, heads, head_dim = case["points"], case["channels"], case["heads"], case["head_dim"]
    g = torch.Generator().manual_seed(1)
    h = torch.randn(n, c, generator=g).to(device)
    batch = torch.zeros(n, dtype=torch.int64, device=device)
    tokens = h if case["scenario"] == "self" else torch.randn(case["tokens"], c, generator=g).to(device)
    if case["method"] == "linear":
        module = LinearCrossAttention(c, [c], heads, head_dim).to(device)
        source = TokenSet(tokens, torch.zeros(len(tokens), dtype=torch.int64, device=device), 1)

        def forward() -> torch.Tensor:
            return module(h, batch, [source])
    else:
        module = SoftmaxCrossAttention(c, c, heads, head_dim).to(device)

        def forward() -> torch.Tensor:
            return module(h, tokens)

    times = []
    with torch.no_grad():
        before = max_rss_bytes()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            allocated = torch.cuda.memory_allocated(device)
        for repeat in range(case["repeats"] + 1):  # the first call is a warm-up
            synchronize(device)
            start = time.perf_counter()
            out = forward()
            synchronize(device)
            if repeat:
                times.append(time.perf_counter() - start)
            del out
        if device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(device) - allocated
        else:
            peak = max_rss_bytes() - before
    return {**case, "seconds": float(np.median(times)), "peak_extra_bytes": int(peak)}


def run_case(case: dict) -> dict:
    """:func:`worker` in a fresh interpreter (its own memory high-water mark)."""
    result = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(case)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return {**case, "seconds": None, "peak_extra_bytes": None, "error": result.stderr.strip()[-300:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def available_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def slope(rows: list[dict], min_points: int = 0) -> float | None:
    """Least-squares slope of log(time) against log(N)."""
    points = [(r["points"], r["seconds"]) for r in rows if r.get("seconds") and r["points"] >= min_points]
    if len(points) < 2:
        return None
    x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    return float(np.polyfit(x, y, 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--max-points", type=int, default=SIZES[-1])
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head-dim", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=256, help="condition tokens of the 'cross' scenario")
    parser.add_argument("--scenarios", default="self,cross")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument(
        "--softmax-budget", type=float, default=60.0, help="skip softmax cases predicted slower"
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "cross_attention.json"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    device = torch.device(args.device)
    sizes = [n for n in SIZES if n <= args.max_points]
    base = {"device": args.device, "channels": args.channels, "heads": args.heads, "head_dim": args.head_dim,
            "tokens": args.tokens, "repeats": args.repeats, "threads": args.threads}  # fmt: skip
    rows: list[dict] = []
    for scenario in args.scenarios.split(","):
        previous = None
        for n in sizes:
            rows.append(run_case({**base, "scenario": scenario, "method": "linear", "points": n}))
            keys = n if scenario == "self" else args.tokens
            scores = 4 * args.heads * n * keys  # fp32 N × M score matrix per head
            predicted = None if previous is None else previous["seconds"] * (n / previous["points"]) * (
                keys / (previous["points"] if scenario == "self" else args.tokens))  # fmt: skip
            if predicted is not None and predicted > args.softmax_budget:
                note = f"skipped: predicted {predicted:.0f} s > --softmax-budget {args.softmax_budget:.0f} s"
            elif device.type == "cuda" and scores > available_bytes(device):
                note = f"skipped: an N × M score matrix ({scores / 2**30:.0f} GiB) exceeds the free memory"
            else:
                result = run_case({**base, "scenario": scenario, "method": "softmax", "points": n})
                rows.append(result)
                previous = result if result.get("seconds") else previous
                continue
            rows.append({**base, "scenario": scenario, "method": "softmax", "points": n, "seconds": None,
                         "peak_extra_bytes": None, "note": note})  # fmt: skip

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    threads = args.threads or torch.get_num_threads()
    print(f"device: {name} ({threads} threads); C={args.channels}, {args.heads} heads × {args.head_dim}, "
          f"cross: {args.tokens} tokens; median of {args.repeats}")  # fmt: skip
    print(f"{'scenario':>8} {'N':>8} {'linear ms':>10} {'softmax ms':>11} {'soft÷lin':>8} "
          f"{'linear MB':>10} {'softmax MB':>11}")  # fmt: skip
    for scenario in args.scenarios.split(","):
        for n in sizes:
            lin = next(
                r for r in rows if (r["scenario"], r["method"], r["points"]) == (scenario, "linear", n)
            )
            soft = next(
                r for r in rows if (r["scenario"], r["method"], r["points"]) == (scenario, "softmax", n)
            )

            def ms(r: dict) -> str:
                return f"{r['seconds'] * 1e3:.1f}" if r.get("seconds") else "-"

            def mb(r: dict) -> str:
                return (
                    f"{r['peak_extra_bytes'] / 2**20:.0f}" if r.get("peak_extra_bytes") is not None else "-"
                )

            ratio = (
                f"{soft['seconds'] / lin['seconds']:.1f}"
                if soft.get("seconds") and lin.get("seconds")
                else "-"
            )
            line = (
                f"{scenario:>8} {n:>8} {ms(lin):>10} {ms(soft):>11} {ratio:>8} {mb(lin):>10} {mb(soft):>11}"
            )
            note = soft.get("note") or (f"failed: {soft['error']}" if soft.get("error") else "")
            print(line + (f"   softmax {note}" if note else ""))
    fits = {}
    for scenario in args.scenarios.split(","):
        for method in ("linear", "softmax"):
            chosen = [r for r in rows if r["scenario"] == scenario and r["method"] == method]
            fits[f"{scenario}/{method}"] = {"all": slope(chosen), "N>=65536": slope(chosen, 65536)}
            all_sizes, large = fits[f"{scenario}/{method}"].values()
            if all_sizes is not None:
                tail = f", {large:.2f} for N ≥ 65536" if large is not None else ""
                print(f"slope of log time vs log N, {scenario}/{method}: {all_sizes:.2f}{tail}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"config": {**vars(args), "device_name": name}, "rows": rows, "slopes": fits}, indent=2)
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
