"""Multi-scale inverse problems (§5.5): a layout of boxes with text prompts steers sampling through CLIP.

At every diffusion step each box is rendered at the CLIP resolution (224² for real CLIP models) from
the current denoised estimate x̂₀ of the latent (R ∘ D on the box's pixel grid), scored against its
prompt, and the gradient of Σ_boxes (1 − cos(CLIP(p_i), CLIP(T_i))) with respect to z_t (through x̂₀)
corrects the DDIM step (DPS, :func:`infd_samplers.posterior_sampling`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch

from infd_core.errors import ConfigError, UsageError
from infd_infd.autoencoder import NeuralFieldAutoencoder
from infd_infd.config import ClipModelConfig, LayoutBox, parse_boxes
from infd_infd.rendering import box_grid, check_box

logger = logging.getLogger(__name__)


@runtime_checkable
class ImageTextEncoder(Protocol):
    """What the guidance needs from CLIP (infd-metrics' ``load_clip`` returns one)."""

    image_size: int

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` in [0, 1] → L2-normalised features (differentiable)."""
        ...

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        """Prompts → L2-normalised features."""
        ...


def _parse_layout_file(path: str) -> Any:
    from infd_core.config_files import SUFFIXES, parse_data_text, read_text_bounded

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"layout file {path} not found")
    fmt = SUFFIXES.get(file.suffix.lower(), "yaml")
    return parse_data_text(read_text_bounded(file), fmt, f"{path}: layout")


def load_layout(boxes: list[LayoutBox] | str) -> list[LayoutBox]:
    """The boxes of a layout given inline or as a YAML/TOML/JSON file: a list of ``{box, prompt}`` or a
    mapping ``{boxes: [...]}`` (TOML: ``[[boxes]]`` tables)."""
    if not isinstance(boxes, str):
        items: Any = boxes
        source = "config.sampling.layout.boxes"
    else:
        data = _parse_layout_file(boxes)
        items = data.get("boxes") if isinstance(data, dict) else data
        source = boxes
    try:
        return parse_boxes(items)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def check_layout(boxes: list[LayoutBox], canvas: tuple[int, int]) -> None:
    for i, item in enumerate(boxes):
        check_box(item.box, canvas, where=f"layout box {i} ({item.prompt!r})")


def load_clip_encoder(config: ClipModelConfig, device: torch.device) -> ImageTextEncoder:
    """The CLIP model of ``config`` via infd-metrics; a missing checkpoint is a clear error."""
    from infd_core.outputs import filesystem

    fs, location = filesystem(config.checkpoint)
    if not fs.exists(location):
        raise UsageError(
            f"CLIP checkpoint {config.checkpoint} does not exist (config.sampling.layout.clip.checkpoint; "
            "weights are only read from local files or URLs you give, never downloaded)"
        )
    try:
        from infd_metrics import ClipConfig, load_clip
    except ImportError as exc:
        raise UsageError(f"layout guidance needs infd-metrics with open_clip ({exc})") from None
    clip = ClipConfig(model=config.model, checkpoint=config.checkpoint, model_config=config.architecture)
    return load_clip(clip, device)


class LayoutLoss:
    """Per-sample CLIP loss Σ_i (1 − cos) of the layout's boxes rendered from latents x̂₀ (scaled)."""

    def __init__(
        self,
        autoencoder: NeuralFieldAutoencoder,
        encoder: ImageTextEncoder,
        boxes: list[LayoutBox],
        canvas: tuple[int, int],
        latent_scale: float,
        resolution: int | None = None,
    ) -> None:
        self.autoencoder, self.encoder, self.latent_scale = autoencoder, encoder, latent_scale
        device = next(autoencoder.parameters()).device
        side = int(resolution or encoder.image_size)
        self.grids = [box_grid(b.box, canvas, side, device) for b in boxes]
        with torch.no_grad():
            self.texts = encoder.encode_texts([b.prompt for b in boxes]).detach().to(device)

    def render_boxes(self, x0: torch.Tensor) -> list[torch.Tensor]:
        """Each box rendered from the scaled latents ``x0``, ``(B, 3, s, s)`` in [0, 1]."""
        features = self.autoencoder.decode(x0 / self.latent_scale)
        batch = x0.shape[0]
        out = []
        for coords, cells in self.grids:
            rgb = self.autoencoder.render(
                features, coords.expand(batch, -1, -1, -1), cells.expand(batch, -1, -1, -1)
            )
            out.append(((rgb + 1) / 2).clamp(0, 1))
        return out

    def similarities(self, x0: torch.Tensor) -> torch.Tensor:
        """Cosine similarity ``(B, boxes)`` of each box to its prompt."""
        sims = []
        for i, image in enumerate(self.render_boxes(x0)):
            features = self.encoder.encode_images(image)
            sims.append((features * self.texts[i].to(features)).sum(-1))
        return torch.stack(sims, dim=1)

    def __call__(self, x0: torch.Tensor) -> torch.Tensor:
        return (1.0 - self.similarities(x0)).sum(dim=1)
