"""GUD bits/dim on held-out crops for the pixel, PCA (whitened prior) and FFT bases after one tiny training
budget, with the paper's NLL settings (3 Hutchinson probes, rtol = atol = 1e-4) and fast ones (1 probe,
1e-3), each by the adaptive RK45 and the fixed-step Heun solver; and the network's input in image space
(App. B) against the whitened state.

Every run trains through the pipeline (`GudPipeline.train`) on 8² crops of infd-io's built-in
photographs with the same seed, steps and batch; the NLL uses the same held-out crops, dequantisation
and probes for every basis and setting (generators from the run seed).

    python plugins/infd-gud/scripts/reproduce_nll.py                  # all bases, both inputs
    python plugins/infd-gud/scripts/reproduce_nll.py --resolution 16 --steps 600 --images 4 --inputs image
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from infd_core.config import resolve_run_config
from infd_core.runner import Runner
from infd_gud.likelihood import negative_log_likelihood

SETTINGS = {
    "paper": {"num_probes": 3, "rtol": 1e-4, "atol": 1e-4},
    "fast": {"num_probes": 1, "rtol": 1e-3, "atol": 1e-3},
}


def build(runner: Runner, folder: str, basis: str, network_input: str, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    config = {
        "data": {"resolution": args.resolution, "channels": 3, "num_items": 512, "fit_items": 512},
        "basis": {"name": basis},
        "prior": {"kind": "data"},
        "schedule": {"name": "linear-soft", "softness": 1.0},
        "network": {"input": network_input},
        "training": {"steps": args.steps, "batch_size": args.batch, "log_every": 10**9},
        "likelihood": {"enabled": False},
    }
    run = resolve_run_config(
        {"pipeline": "gud", "output": folder, "seed": 0, "config": config}, runner.registry
    )
    return runner.build(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=8, help="crop side")
    parser.add_argument("--steps", type=int, default=150, help="training steps (same for every basis)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--images", type=int, default=2, help="held-out crops")
    parser.add_argument("--heun-steps", type=int, default=24)
    parser.add_argument("--bases", nargs="+", default=["pixel", "pca", "fft"])
    parser.add_argument("--inputs", nargs="+", default=["image", "whitened"])
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    runner = Runner()
    print(
        f"training: {args.steps} steps of batch {args.batch} on {args.resolution}² crops; "
        f"NLL of {args.images} held-out crops"
    )
    columns = ("basis", 6), ("input", 9), ("loss", 7), ("setting", 8), ("RK45 bpd", 9), ("Heun bpd", 9)
    print(" ".join(f"{name:>{width}}" for name, width in columns), f"{'|Δ|':>7} {'RK45 evals':>10} {'s':>6}")
    with tempfile.TemporaryDirectory() as folder:
        for basis in args.bases:
            for network_input in args.inputs:
                pipeline = build(runner, f"{folder}/{basis}-{network_input}", basis, network_input, args)
                loss = pipeline.train()["loss"]
                images = pipeline.images(args.images, seed_offset=1)
                model, schedule = pipeline.model(), pipeline.space.schedule()
                for name, setting in SETTINGS.items():
                    start, values, evaluations = time.perf_counter(), {}, 0
                    for solver in ("rk45", "heun"):
                        nll = negative_log_likelihood(
                            model, pipeline.space, schedule, images,
                            dequantisation_generator=pipeline.context.generator("dequantise", device="cpu"),
                            probe_generator=pipeline.context.generator("probes", device="cpu"), solver=solver,
                            steps=args.heun_steps, **setting,
                        )  # fmt: skip
                        values[solver] = float(nll.bits_per_dim.mean())
                        evaluations = nll.evaluations if solver == "rk45" else evaluations
                    gap = abs(values["rk45"] - values["heun"])
                    print(
                        f"{basis:>6} {network_input:>9} {loss:7.4f} {name:>8} {values['rk45']:9.4f} "
                        f"{values['heun']:9.4f} {gap:7.4f} {evaluations:>10} "
                        f"{time.perf_counter() - start:6.1f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
