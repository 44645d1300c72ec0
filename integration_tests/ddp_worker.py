"""Trains tiny pipelines under torchrun (or alone) for the distributed tests.

python ddp_worker.py OUT NAME...   each NAME of ``TINY`` is trained with output ``OUT/NAME``.
"""

from __future__ import annotations

import sys
from typing import Any

TINY: dict[str, dict[str, Any]] = {
    "gud": {
        "data": {"resolution": 16, "channels": 3, "num_items": 32, "fit_items": 96},
        "network": {
            "base_channels": 8,
            "channel_mult": [1, 2],
            "token_dim": 16,
            "mixer_blocks": 1,
            "mixer_hidden": 32,
            "heads": 2,
            "groups": 4,
        },
        "training": {"steps": 3, "batch_size": 5},
        "sampling": {"steps": 3, "batch_size": 2},
        "likelihood": {"enabled": False},
    },
    "funcdiff": {
        "data": {"kind": "mogp", "mogp": {"num_curves": 40, "num_points": 32}},
        "model": {"kind": "fno", "fno": {"width": 8, "modes": 6, "layers": 2, "projection": 16}},
        "train": {"steps": 4, "batch_size": 7},
    },
    "inftydiff": {
        "data": {"resolution": 16, "subsampling": 4, "batch_size": 4},
        "model": {
            "sparse_channels": 8,
            "train_resolution": 16,
            "grid": {"channels": 8, "groups": 4, "attention_resolutions": []},
        },
        "optim": {"steps": 2},
    },
    # VQ autoencoder with the discriminator from step 1 (adaptive weight, global-batch D step), then 2
    # latent DDPM steps; 16² images and patches
    "infd": {
        "autoencoder": {
            "encoder_size": 16,
            "channels": 4,
            "channel_mult": [1, 2],
            "norm_groups": 2,
            "codebook_size": 16,
        },
        "renderer": {"hidden_channels": 8, "residual_blocks": 1, "gemm_chunk": 256},
        "data": {
            "builtin_resolutions": [16, 24],
            "num_items": 4,
            "patch_size": 16,
            "max_size": 24,
            "batch_size": 5,
        },
        "loss": {"disc_start": 1, "discriminator": {"layers": 2, "channels": 4}},
        "optim": {"steps": 3, "log_every": 1},
        "latent": {
            "steps": 2,
            "batch_size": 4,
            "stats_batches": 1,
            "unet": {"channels": 8, "channel_mult": [1], "groups": 4},
        },
        "sampling": {"steps": 3, "batch_size": 2, "tile_size": 16, "chunk": 16},
    },
    # 2 classes, condition dropped with probability 0.5 (per-sample draws)
    "infbrush": {
        "model": {"sparse_channels": 8, "kernel_size": 3, "grid": {"resolution": 8, "channels": 8}},
        "data": {"resolution": 16, "subsampling": 4, "batch_size": 6, "condition_drop": 0.5, "num_items": 16},
        "optim": {"steps": 2, "ema_decay": 0.5},
        "sampling": {"steps": 3, "batch_size": 1, "chunk": 16},
    },
}


def run_config(name: str, output: str, **extra: Any) -> dict[str, Any]:
    return {"pipeline": name, "seed": 1, "device": "cpu", "output": output, "config": TINY[name], **extra}


def train(
    out: str, names: list[str], overrides: dict[str, dict[str, Any]] | None = None, resume: str | None = None
) -> None:
    """Train each of ``names`` into ``out/NAME`` (``resume``: a folder holding ``NAME/checkpoint``)."""
    from infd_core.config import resolve_run_config
    from infd_core.runner import Runner

    runner = Runner()
    for name in names:
        data = run_config(name, f"{out}/{name}")
        if resume is not None:
            data["train"] = {"resume": f"{resume}/{name}/checkpoint"}
        for section, values in (overrides or {}).get(name, {}).items():
            data["config"] = {**data["config"], section: {**data["config"][section], **values}}
        runner.train(resolve_run_config(data, runner.registry))


if __name__ == "__main__":
    accumulate = {
        "gud": {"training": {"grad_accumulation": 2}},
        "funcdiff": {"train": {"grad_accumulation": 2}},
        "infd": {"optim": {"grad_accumulation": 2}, "latent": {"grad_accumulation": 2}},
        "infbrush": {"optim": {"grad_accumulation": 3}},
    }
    import torch

    torch.set_num_threads(1)
    train(sys.argv[1], sys.argv[2:], accumulate)
    from infd_core.distributed import barrier, exit_rank, shutdown

    barrier()
    shutdown()
    exit_rank(0)  # no interpreter finalisation beside gloo's threads (see exit_rank)
