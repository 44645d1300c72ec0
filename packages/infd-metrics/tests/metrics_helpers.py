"""Shared test helpers: tiny locally saved models and small image folders (all from fixed seeds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

TINY_CLIP = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def save_tiny_clip(path: Path, seed: int = 0, fmt: str = "safetensors") -> Path:
    """A randomly initialised tiny open_clip CLIP, saved as safetensors or a torch state dict."""
    import open_clip
    from safetensors.torch import save_file

    torch.manual_seed(seed)  # open_clip initialises with the global generator
    model = open_clip.CLIP(**TINY_CLIP)
    with torch.no_grad():  # a non-trivial logit scale and projections
        generator = torch.Generator().manual_seed(seed)
        model.visual.proj.copy_(torch.randn(model.visual.proj.shape, generator=generator) * 0.2)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    if fmt == "safetensors":
        save_file(state, str(path))
    else:
        torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, str(path))
    return path


def write_images(folder: Path, count: int, seed: int, size: int = 32, mode: str = "RGB") -> Path:
    """``count`` PNG images of smooth random colour fields (different per seed)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size] / size
    for index in range(count):
        a, b, c = rng.uniform(0.5, 4.0, size=3)
        phase = rng.uniform(0, 6.28, size=3)
        image = np.stack(
            [
                np.sin(a * 6.28 * xs + phase[0]),
                np.cos(b * 6.28 * ys + phase[1]),
                np.sin(c * (xs + ys) + phase[2]),
            ],
            axis=-1,
        )
        pixels = ((image + 1) * 127.5).clip(0, 255).astype(np.uint8)
        picture = Image.fromarray(pixels, "RGB")
        picture.convert(mode).save(folder / f"img_{index:03d}.png")
    return folder


def load_folder(folder: Path) -> torch.Tensor:
    """Every PNG of ``folder`` (sorted) as a (N, 3, H, W) float tensor in [0, 1], decoded by PIL."""
    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0
