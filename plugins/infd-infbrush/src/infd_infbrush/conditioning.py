"""Condition embeddings of ∞-Brush: vectors (class, attribute) or reference-image patches → tokens.

A condition becomes a :class:`~infd_infbrush.attention.TokenSet` of ``width``-wide tokens, the keys and
values of the cross-attention operator. A learned null token set stands in for a dropped condition
(classifier-free guidance). Patch conditions come from a :class:`PatchEncoder` trained jointly, from a
pre-trained one loaded from a local safetensors file (frozen), or as ready-made encoder tokens.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import torch
from torch import nn

from infd_infbrush.attention import TokenSet
from infd_infbrush.errors import ConditionError, EncoderError
from infd_infbrush.model_config import ConditionConfig

logger = logging.getLogger(__name__)

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def fourier_features(positions: torch.Tensor, frequencies: int) -> torch.Tensor:
    """``[N, 4F]`` sines and cosines of ``positions [N, 2]`` in [0, 1] at frequencies π·2^0 … π·2^(F−1)."""
    scales = math.pi * 2.0 ** torch.arange(frequencies, device=positions.device, dtype=positions.dtype)
    args = (positions[:, :, None] * scales).reshape(positions.shape[0], -1)
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class VectorEmbedding(nn.Module):
    """A condition vector ``[B, dim]`` → ``tokens`` tokens of ``width`` features (an MLP)."""

    def __init__(self, dim: int, tokens: int, width: int) -> None:
        super().__init__()
        self.dim, self.tokens, self.width = dim, tokens, width
        hidden = max(width, 4 * dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, tokens * width))

    def forward(self, vectors: torch.Tensor) -> TokenSet:
        return TokenSet.from_dense(self.mlp(vectors).reshape(vectors.shape[0], self.tokens, self.width))


class PatchEncoder(nn.Module):
    """Reference images ``[B, C, r, r]`` → one token per ``p × p`` patch (patchify + MLP + position)."""

    FREQUENCIES = 4

    def __init__(self, channels: int, patch_size: int, width: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.patchify = nn.Conv2d(channels, width, patch_size, stride=patch_size)
        self.position = nn.Linear(4 * self.FREQUENCIES, width)
        self.mlp = nn.Sequential(
            nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(), nn.Linear(width, width)
        )

    def forward(self, images: torch.Tensor) -> TokenSet:
        x = self.patchify(images)  # [B, width, h, w]
        h, w = x.shape[-2:]
        rows = (torch.arange(h, device=x.device, dtype=x.dtype) + 0.5) / h
        cols = (torch.arange(w, device=x.device, dtype=x.dtype) + 0.5) / w
        centres = torch.stack(torch.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2)
        x = x.flatten(2).transpose(1, 2) + self.position(fourier_features(centres, self.FREQUENCIES))
        return TokenSet.from_dense(x + self.mlp(x))


def load_encoder(encoder: PatchEncoder, path: str) -> None:
    """Load pre-trained weights from a local ``.safetensors`` file into ``encoder`` and freeze it."""
    if _URL.match(path) and not path.startswith("file://"):
        raise EncoderError(f"condition.encoder: only local safetensors files are loaded, got {path!r}")
    file = Path(path.removeprefix("file://")).expanduser()
    if file.suffix != ".safetensors":
        raise EncoderError(f"condition.encoder: {path} is not a .safetensors file (pickles are never loaded)")
    if not file.is_file():
        raise EncoderError(f"condition.encoder: {path} does not exist")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(file))
    except (SafetensorError, OSError) as exc:
        raise EncoderError(f"condition.encoder: {path} is not a readable safetensors file ({exc})") from None
    try:
        encoder.load_state_dict(state)
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise EncoderError(f"condition.encoder: {path} does not fit the patch encoder ({reason})") from None
    encoder.requires_grad_(False)
    logger.info("loaded the frozen patch encoder from %s", path)


def save_encoder(encoder: PatchEncoder, path: str | Path) -> None:
    """Write an encoder's weights as safetensors (what :func:`load_encoder` reads)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().cpu() for k, v in encoder.state_dict().items()}, str(path))


class ConditionEmbedding(nn.Module):
    """Condition → token set (``forward(condition, drop)``), with a learned null condition."""

    def __init__(self, config: ConditionConfig, in_channels: int) -> None:
        super().__init__()
        self.config = config
        self.in_channels = in_channels
        self.vector: VectorEmbedding | None = None
        self.encoder: PatchEncoder | None = None
        self.project: nn.Linear | None = None
        if config.kind == "vector":
            self.vector = VectorEmbedding(config.dim, config.tokens, config.width)
        elif config.kind == "embedding":  # vectors [B, D] → tokens by an MLP; token sets projected
            self.vector = VectorEmbedding(config.dim, config.tokens, config.width)
            self.project = nn.Linear(config.dim, config.width)
        else:
            self.encoder = PatchEncoder(in_channels, config.patch_size, config.encoder_width)
            self.project = nn.Linear(config.encoder_width, config.width)
        self.null = nn.Parameter(0.02 * torch.randn(config.null_tokens, config.width))

    def embed(self, condition: torch.Tensor | TokenSet) -> TokenSet:
        """Tokens of a condition: ``[B, dim]`` vectors, ``[B, C, r, r]`` references, or encoder tokens."""
        cfg = self.config
        if cfg.kind == "embedding":
            return self._embedding_tokens(condition)
        if self.vector is not None:
            if isinstance(condition, TokenSet) or condition.dim() != 2 or condition.shape[1] != cfg.dim:
                got = "a token set" if isinstance(condition, TokenSet) else list(condition.shape)
                raise ConditionError(f"this model is conditioned on vectors [B, {cfg.dim}], got {got}")
            return self.vector(condition.to(self.null.dtype))
        assert self.encoder is not None and self.project is not None
        if isinstance(condition, TokenSet):
            if condition.width != cfg.encoder_width:
                raise ConditionError(
                    f"encoder tokens must have {cfg.encoder_width} features, got {condition.width}"
                )
            return condition.map(self.project)
        if (
            condition.dim() != 4
            or condition.shape[1] != self.in_channels
            or min(condition.shape[2:]) < cfg.patch_size
        ):
            raise ConditionError(
                f"reference images must be [B, {self.in_channels}, H, W] with H, W >= {cfg.patch_size}, "
                f"got {list(condition.shape)}"
            )
        return self.encoder(condition).map(self.project)

    def _embedding_tokens(self, condition: torch.Tensor | TokenSet) -> TokenSet:
        """Precomputed embeddings: ``[B, D]`` vectors, ``[B, T, D]`` or a ragged set of ``D``-wide tokens."""
        assert self.vector is not None and self.project is not None
        dim = self.config.dim
        if isinstance(condition, TokenSet):
            tokens = condition
        elif condition.dim() == 2 and condition.shape[1] == dim:
            return self.vector(condition.to(self.null.dtype))
        elif condition.dim() == 3:
            tokens = TokenSet.from_dense(condition.to(self.null.dtype))
        else:
            raise ConditionError(
                f"embeddings must be [B, {dim}] or [B, T, {dim}], got {list(condition.shape)}"
            )
        if tokens.width != dim:
            raise ConditionError(f"embedding tokens must have {dim} features, got {tokens.width}")
        return tokens.map(self.project)

    def null_tokens(self, batch_size: int) -> TokenSet:
        """The null condition of every sample (the unconditional branch of guidance)."""
        return TokenSet.from_dense(self.null[None].expand(batch_size, -1, -1))

    def forward(self, condition: torch.Tensor | TokenSet, drop: torch.Tensor | None = None) -> TokenSet:
        tokens = self.embed(condition)
        if drop is not None and bool(drop.any()):
            tokens = tokens.replace_samples(drop, self.null)
        return tokens
