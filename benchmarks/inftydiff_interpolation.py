"""∞-Diff: k-nearest-neighbour interpolation onto the inner grid against bilinear splatting, side by side.

For 4×, 8× and 16× coordinate subsampling, a tiny ∞-Diff (32² crops of the built-in photographs, an
inner grid of 16², i.e. 2 px per cell as the paper's 256² images on a 128² grid) is trained for the same
steps from the same initial weights on the same batches with each interpolation (``model.interpolation``
``bilinear`` | ``knn``). It prints, per run, the training loss (mean of the last quarter of the steps)
and the denoising error ‖f(x_t, t) − Tξ‖² on every pixel of held-out images (crops of a different seed)
at t = 0.1 … 0.9, the empty inner-grid cells of the bilinear splat at that rate, and writes JSON.

    python benchmarks/inftydiff_interpolation.py               # 300 steps per run (~15 min, 1 core)
    python benchmarks/inftydiff_interpolation.py --steps 50    # a quick look
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from infd_inftydiff.config import InftyDiffConfig
from infd_inftydiff.data import ImageBatches
from infd_inftydiff.denoiser import InftyDiffDenoiser
from infd_inftydiff.training import loss_on_batch, make_batch
from infd_measures.diffusion import GaussianDiffusion
from infd_measures.discrete import DiscreteSchedule
from infd_measures.mollifier import GaussianMollifier
from infd_sparse import CoordinateBatch, bilinear_splat_sums

RESOLUTION, GRID = 32, 16
HELD_OUT_TIMES = (100, 300, 500, 700, 900)


def config(rate: float, interpolation: str, batch: int) -> InftyDiffConfig:
    return InftyDiffConfig.model_validate(
        {
            "data": {"resolution": RESOLUTION, "subsampling": rate, "batch_size": batch},
            "model": {
                "interpolation": interpolation,
                "grid": {"resolution": GRID, "attention_resolutions": [8]},
            },
        }
    )


def empty_cells(rate: float, seed: int) -> float:
    """Fraction of inner-grid cells that bilinear splatting leaves without weight at this rate."""
    points = CoordinateBatch.random(64, (RESOLUTION, RESOLUTION), rate, torch.Generator().manual_seed(seed))
    _, mass = bilinear_splat_sums(torch.zeros(points.num_points, 1), points, (GRID, GRID))
    return float((mass <= 1e-8).float().mean())


def held_out_error(
    model: InftyDiffDenoiser, diffusion: GaussianDiffusion, images: torch.Tensor, seed: int
) -> float:
    """Mean of ‖f(x_t, t) − Tξ‖² over every pixel of ``images`` and the held-out times."""
    b, _, h, w = images.shape
    points = CoordinateBatch.full(b, (h, w))
    errors = []
    model.eval()
    with torch.no_grad():
        for k, step in enumerate(HELD_OUT_TIMES):
            g = torch.Generator().manual_seed(seed + k)
            t = torch.full((b,), step)
            noisy, target = diffusion.sample_marginal(
                images, t, g, noise=torch.randn(images.shape, generator=g)
            )
            values = noisy.permute(0, 2, 3, 1).reshape(-1, images.shape[1])
            prediction = model(values, points, t.float() / diffusion.schedule.num_steps)
            errors.append(
                float((prediction - target.permute(0, 2, 3, 1).reshape_as(prediction)).square().mean())
            )
    return sum(errors) / len(errors)


def run(rate: float, interpolation: str, steps: int, batch: int, seed: int) -> dict[str, float]:
    cfg = config(rate, interpolation, batch)
    torch.manual_seed(seed)  # the same initial weights for both interpolations
    model = InftyDiffDenoiser(cfg.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, betas=cfg.optim.betas)
    schedule = DiscreteSchedule.cosine(cfg.diffusion.num_steps)
    diffusion = GaussianDiffusion(
        schedule, GaussianMollifier(cfg.diffusion.mollifier_variance, reference_resolution=RESOLUTION)
    )
    batches = ImageBatches(cfg.data, seed)
    losses = []
    start = time.perf_counter()
    model.train()
    for step in range(steps):
        images = batches(step)
        loss = loss_on_batch(model, make_batch(images, diffusion, rate, seed, step), amp=False)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        optimizer.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start
    held_out = ImageBatches(cfg.data.model_copy(update={"batch_size": 16}), seed + 1000)(0)
    tail = losses[-max(1, steps // 4) :]
    return {
        "train_loss": sum(tail) / len(tail),
        "held_out_error": held_out_error(model, diffusion, held_out, seed + 2000),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rates", type=float, nargs="+", default=[4.0, 8.0, 16.0])
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (1: tiny ops on a busy CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    print(f"tiny ∞-Diff, {RESOLUTION}² images, inner grid {GRID}², {args.steps} steps of batch {args.batch}")
    columns = ["subsampling", "bilinear cells empty", "train loss bilinear", "train loss kNN"]
    columns += ["held-out error bilinear", "held-out error kNN"]
    print("| " + " | ".join(columns) + " |\n" + "|---" * len(columns) + "|")
    for rate in args.rates:
        row = {"subsampling": rate, "empty_cells_bilinear": empty_cells(rate, args.seed)}
        for interpolation in ("bilinear", "knn"):
            row[interpolation] = run(rate, interpolation, args.steps, args.batch, args.seed)
        results.append(row)
        cells = [f"{rate:g}×", f"{100 * row['empty_cells_bilinear']:.1f} %"]
        cells += [f"{row[i]['train_loss']:.4f}" for i in ("bilinear", "knn")]
        cells += [f"{row[i]['held_out_error']:.4f}" for i in ("bilinear", "knn")]
        print("| " + " | ".join(cells) + " |", flush=True)
    out = Path(__file__).parent / "results" / "inftydiff_interpolation.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"steps": args.steps, "batch": args.batch, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
