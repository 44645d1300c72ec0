"""Function-space diffusion's GNO radius graph: sorted bucketing vs the O(M²) brute force, in one run.

For M points uniform in [0, 1] (one curve) and radii giving about 10, 100 and 1000 neighbours per point,
it times ``infd_funcdiff.neighbours.radius_graph`` (sort + two binary searches, O(M log M + E)) and
``radius_graph_brute_force`` (all M² pairs, what the GNO did before), checks that both find the same
number of edges, and prints the speed-up. Sizes above ``--brute-max`` run ours only (the brute force
would need M² bytes of comparisons). Writes JSON to results/.

    python benchmarks/funcdiff_neighbours.py                   # M = 10⁴ (both) and 10⁵, 10⁶ (ours)
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from infd_funcdiff.neighbours import radius_graph, radius_graph_brute_force


def timed(fn, repeats: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Median wall time of ``repeats`` calls (after one warm-up) and the edge count."""
    edges = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        edges = fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], int(edges[0].shape[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--neighbours", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--brute-max", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "funcdiff_neighbours.json"))
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    rows = []
    print(f"{'M':>9} {'~nbrs':>6} {'edges':>11} {'ours s':>9} {'brute s':>9} {'speed-up':>9}")
    for size in args.sizes:
        coords = torch.rand(1, size, 1, generator=generator)
        for neighbours in args.neighbours:
            radius = neighbours / (2 * size)
            ours, edges = timed(lambda c=coords, r=radius: radius_graph(c, r), args.repeats)
            row = {"points": size, "radius": radius, "edges": edges, "ours_s": ours}
            if size <= args.brute_max:
                brute, brute_edges = timed(
                    lambda c=coords, r=radius: radius_graph_brute_force(c, r), args.repeats
                )
                if brute_edges != edges:
                    raise SystemExit(f"edge counts differ at M={size}, r={radius}: {edges} vs {brute_edges}")
                row |= {"brute_s": brute, "speedup": brute / ours}
            rows.append(row)
            brute_text = (
                f"{row['brute_s']:9.4f} {row['speedup']:8.1f}×" if "brute_s" in row else f"{'—':>9} {'—':>9}"
            )
            print(f"{size:>9} {neighbours:>6} {edges:>11} {ours:9.4f} {brute_text}")
    meta = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "repeats": args.repeats}  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"config": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
