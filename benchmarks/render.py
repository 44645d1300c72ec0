"""Tiled CLIF / LIIF rendering into OME-Zarr vs rendering the whole image at once (infd-render).

For each renderer and size: megapixels/s and peak device/host memory of (a) tiles with halos streamed
into a ``TiledWriter`` (pyramid included), (b) the whole image in one ``render`` call where it fits;
plus the time over the FLOP limit of the device (``--peak-tflops``). ``--quick`` is a small CPU run.

    python benchmarks/render.py            # GPU: 4096² and 32768² (one gigapixel), paper-size nets
    python benchmarks/render.py --renderers clif --precisions bfloat16 float32
    python benchmarks/render.py --quick    # CPU: small sizes, reduced channels

The JSON is rewritten after every row, so a run cut short keeps the rows it finished.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import tempfile
import time
from pathlib import Path

import torch

from infd_render import (
    CLIFConfig,
    CLIFRenderer,
    LIIFConfig,
    LIIFRenderer,
    TiledRenderer,
    ZarrSink,
    render_whole,
)


def conv_flops_per_pixel(renderer: torch.nn.Module) -> float:
    """2 × multiply-adds per output pixel of every conv / linear layer (the network's FLOP floor)."""
    total = 0.0
    for layer in renderer.modules():
        if isinstance(layer, torch.nn.Conv2d):
            total += 2 * layer.weight.numel()
        elif isinstance(layer, torch.nn.Linear):
            total += (
                2 * layer.weight.numel() * (4 if getattr(renderer.config, "local_ensemble", False) else 1)
            )
    return total


def host_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(label, fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    result = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    device_mb = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else float("nan")
    return result, seconds, device_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small CPU run")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    parser.add_argument("--tile-size", type=int, default=None)
    parser.add_argument("--whole-max", type=int, default=4096, help="largest size also rendered whole")
    parser.add_argument("--peak-tflops", type=float, default=None, help="device FLOP limit (per precision)")
    parser.add_argument("--renderers", nargs="*", default=["clif", "liif"], choices=["clif", "liif"])
    parser.add_argument("--precisions", nargs="*", default=["float32"], choices=["float32", "bfloat16"])
    parser.add_argument("--write-ahead", type=int, default=2, help="tiles rendered ahead of the writer")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "render.json"))
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() and not args.quick else "cpu")
    if args.quick:
        sizes, tile, clif, liif = (
            args.sizes or [256, 512],
            args.tile_size or 128,
            CLIFConfig(feature_channels=16, hidden_channels=32),
            LIIFConfig(feature_channels=16, hidden_channels=[32, 32]),
        )
        features_hw = 32
    else:
        sizes, tile, clif, liif = (
            args.sizes or [4096, 32768],
            args.tile_size or 2048,
            CLIFConfig(),
            LIIFConfig(),
        )
        features_hw = 64
    rows = []
    cases = [(name, precision) for name in args.renderers for precision in args.precisions]
    for name, precision in cases:
        torch.manual_seed(0)
        renderer = (CLIFRenderer(clif) if name == "clif" else LIIFRenderer(liif)).eval()
        renderer = renderer.to(device, getattr(torch, precision))
        # H100 SXM dense limits: 67 TFLOP/s fp32 (no TF32), 989 bf16 tensor cores
        peak = args.peak_tflops or (
            {"float32": 67.0, "bfloat16": 989.0}[precision] if device.type == "cuda" else None
        )
        channels = renderer.config.feature_channels
        feats = torch.randn(1, channels, features_hw, features_hw, device=device)
        flops = conv_flops_per_pixel(renderer)
        for size in sizes:
            tile_side = min(tile, size)
            with tempfile.TemporaryDirectory() as tmp:
                sink = ZarrSink.create(
                    f"{tmp}/out.zarr", size, 3, "uint8", tile_size=tile_side, chunks=min(256, tile_side)
                )
                tiler = TiledRenderer(renderer, tile_side, write_ahead=args.write_ahead)

                def tiled(tiler=tiler, sink=sink, feats=feats, size=size):
                    return tiler.render_to_sink(sink, feats, size), sink.finalize()

                _, tiled_s, tiled_mb = measure("tiled", tiled, device)
            whole_s = whole_mb = float("nan")
            if size <= args.whole_max:

                def whole(renderer=renderer, feats=feats, size=size):
                    return render_whole(renderer, feats, size).cpu()

                with contextlib.suppress(torch.OutOfMemoryError):
                    _, whole_s, whole_mb = measure("whole", whole, device)
            mpx = size * size / 1e6
            row = {
                "renderer": name,
                "precision": precision,
                "size": size,
                "device": str(device),
                "tile": min(tile, size),
                "tiled_zarr_s": tiled_s,
                "tiled_mpx_s": mpx / tiled_s,
                "tiled_device_peak_mb": tiled_mb,
                "whole_s": whole_s,
                "whole_mpx_s": mpx / whole_s,
                "whole_device_peak_mb": whole_mb,
                "tiled_over_whole": tiled_s / whole_s,
                "host_peak_mb": host_peak_mb(),
                "gflop_per_mpx": flops * 1e6 / 1e9,
                "tiled_over_flop_limit": tiled_s / (size * size * flops / (peak * 1e12)) if peak else None,
            }
            rows.append(row)
            print(
                f"{name:5s} {precision:8s} {size:6d}² tiled+zarr {tiled_s:8.2f} s "
                f"{row['tiled_mpx_s']:8.3f} MPx/s | whole "
                f"{whole_s:8.2f} s {row['whole_mpx_s']:8.3f} MPx/s "
                f"| tiled/whole {row['tiled_over_whole']:5.2f} "
                f"| dev peak {tiled_mb:8.0f}/{whole_mb:8.0f} MB | host peak {row['host_peak_mb']:7.0f} MB"
                + (f" | ÷ FLOP limit {row['tiled_over_flop_limit']:.1f}" if peak else ""),
                flush=True,
            )
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps({"quick": args.quick, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
