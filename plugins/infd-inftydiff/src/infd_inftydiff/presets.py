"""Presets beyond the model sizes: the settings of every config section a paper states.

A preset fills each section it names under the user's keys (explicit keys win, key by key). The values
are transcribed in the plugin READMEs' preset tables (parameter · paper value (section) · preset · tiny
default), and tests hold the resolved configs to those tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: ∞-Diff (Bond-Taylor & Willcocks, ICLR 2024), FFHQ-256: §5, App. A and the public code's config
INFTYDIFF_PAPER: dict[str, dict[str, Any]] = {
    "data": {"resolution": 256, "subsampling": 4.0, "batch_size": 32},
    "diffusion": {"num_steps": 1000, "mollifier_variance": 1.0, "wiener_epsilon": 0.05},
    "optim": {
        "lr": 5e-5,
        "betas": [0.9, 0.99],
        "weight_decay": 0.0,
        "ema_decay": 0.995,
        "grad_clip": 1.0,
        "amp": True,
    },
    "sampling": {"steps": 100, "eta": 0.0},
    "latent": {"architecture": "skip", "hidden": 2048, "depth": 10, "loss": "l1",
               "schedule": "constant", "beta": 0.008, "num_steps": 1000},
}  # fmt: skip


def apply_sections(data: Mapping[str, Any], sections: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``data`` with each preset section merged under the user's section (the user's keys win)."""
    merged = dict(data)
    for name, values in sections.items():
        user = data.get(name)
        if user is None:
            merged[name] = dict(values)
        elif isinstance(user, Mapping):
            merged[name] = {**values, **user}
    return merged


#: ∞-Brush (Le, Graikos et al., ECCV 2024), CelebA-HQ 1024²: 65,536 random pixels per image, batch 20
#: per GPU, Adam 5e-5, β (0.9, 0.99), EMA 0.995, DDIM 50 steps; ∞-Diff's diffusion (mollifier, schedule)
INFBRUSH_PAPER: dict[str, dict[str, Any]] = {
    "data": {"resolution": 1024, "subsampling": 16.0, "batch_size": 20},
    "diffusion": {**INFTYDIFF_PAPER["diffusion"], "loss_weighting": "lambda_t"},
    "optim": {**INFTYDIFF_PAPER["optim"]},
    "sampling": {"steps": 50, "eta": 0.0},
}


def preset_table(markdown: str) -> dict[str, tuple[Any, Any, Any]]:
    """The rows of a README preset table, ``| `path` | paper value (source) | preset | tiny default |``,
    as ``{path: (paper value, preset value, tiny value)}`` with the values read as JSON (the
    parenthesised source after the paper value is dropped)."""
    rows = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not (cells[0].startswith("`") and cells[0].endswith("`")):
            continue
        paper = cells[1].split(" (", 1)[0]
        rows[cells[0].strip("`")] = (json.loads(paper), json.loads(cells[2]), json.loads(cells[3]))
    return rows
