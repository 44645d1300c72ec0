"""The ``paper`` preset of the GUD pipeline: the networks and settings of Gerdes et al. (App. A/B).

App. B gives the training (batch 128, Adam 5e-4, EMA 0.999, t uniform in [0, 1], 300k steps), the NLL
(3 Hutchinson probes, adaptive steps with rtol = atol = 1e-4) and the data (CIFAR-10 32², PCam downscaled
to 32²). App. A says the U-Net follows Song et al. (2021); its sizes are DDPM++ for CIFAR-10 there
(128 channels, multipliers 1-2-2-2, 4 residual blocks per level, self-attention at 16², dropout 0.1,
GroupNorm 32). The γ-embedding's widths are not given in the paper: ours are marked in the README table.
"""

from __future__ import annotations

from typing import Any

PAPER: dict[str, Any] = {
    "data": {"resolution": 32, "num_items": 50000, "fit_items": 50000, "holdout": 6144},
    "network": {
        "input": "image",
        "base_channels": 128,
        "channel_mult": [1, 2, 2, 2],
        "res_blocks": 4,
        "attention_resolutions": [16],
        "dropout": 0.1,
        "groups": 32,
        "heads": 4,
        "token_dim": 128,
        "mixer_blocks": 4,
        "mixer_hidden": 256,
    },
    "training": {"steps": 300000, "batch_size": 128, "lr": 5e-4, "ema_decay": 0.999, "t_min": 0.0},
    "likelihood": {"num_probes": 3, "rtol": 1e-4, "atol": 1e-4, "solvers": ["rk45"], "num_images": 6144},
    "schedule": {"gamma_denoise": -7.0, "sigma_min": 0.99},
}

__all__ = ["PAPER"]
