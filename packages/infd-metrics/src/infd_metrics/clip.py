"""open_clip image/text encoders from user-supplied weights, differentiable with respect to images.

The architecture comes from open_clip's built-in configs (``model``) or from a custom config
(``model_config``); the weights only from ``checkpoint`` (no pretrained tags, no hub downloads).
Images are resized (shorter side, antialiased bicubic), centre-cropped and normalised with torch ops, so
gradients flow back to the pixels (CLIP guidance); the text side uses open_clip's bundled BPE tokenizer.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Sequence
from typing import Any

import torch

from infd_core.errors import ConfigError, UsageError
from infd_metrics.configs import ClipConfig
from infd_metrics.extractor import FeatureExtractor, check_images, pick_device
from infd_metrics.resize import center_crop, resize_shorter_side
from infd_metrics.weights import check_keys, load_state_dict, read_weight_file, state_digest

logger = logging.getLogger(__name__)

HOW_TO = (
    "CLIP weights are never downloaded by infd: save the open_clip weights of your architecture (e.g. "
    "open_clip_model.safetensors from the model's Hugging Face page, or the .bin/.pt state dict of "
    "open_clip's pretrained tags) to a local file or bucket, then set checkpoint to its path or URL "
    "(--clip-checkpoint PATH on the command line)"
)


class ClipEncoder(FeatureExtractor):
    """An open_clip model with torch-only preprocessing; ``features`` gives FID_CLIP's features."""

    name = "open-clip"

    def __init__(
        self,
        model: torch.nn.Module,
        image_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        tokenizer: Any,
        *,
        feature_dim: int,
        architecture: str = "",
        fid_features: str = "raw",
        weights_sha256: str = "",
    ) -> None:
        super().__init__(weights_sha256)
        self.model = model
        self.image_size = int(image_size)
        self.input_size = self.image_size
        self.tokenizer = tokenizer
        self.architecture = architecture
        self.fid_features = fid_features
        self.register_buffer(
            "mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.feature_dim = int(feature_dim)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """[0, 1] images → the model's normalised input (shorter side resized, centre crop)."""
        images = check_images(images).to(self.mean.device, torch.float32)
        images = center_crop(resize_shorter_side(images, self.image_size), self.image_size)
        return (images.clamp(0.0, 1.0) - self.mean) / self.std

    def encode_images(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """``(B, 3, H, W)`` float images in [0, 1] → ``(B, D)`` embeddings (L2-normalised by default).

        Differentiable with respect to ``images``; wrap in ``torch.no_grad()`` when no gradient is needed.
        """
        return self.model.encode_image(self.preprocess(images), normalize=normalize)

    def encode_texts(self, texts: Sequence[str], normalize: bool = True) -> torch.Tensor:
        """A list of strings → ``(N, D)`` embeddings (L2-normalised by default)."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise UsageError("encode_texts takes a list of strings")
        tokens = self.tokenizer(list(texts)).to(self.mean.device)
        return self.model.encode_text(tokens, normalize=normalize)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """FID_CLIP's features: raw image embeddings as clean-fid uses them (or normalised ones)."""
        return self.encode_images(images, normalize=self.fid_features == "normalized")

    def fingerprint(self) -> dict[str, Any]:
        return {**super().fingerprint(), "architecture": self.architecture, "features": self.fid_features}


def _model_config(config: ClipConfig) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(model config, preprocess config, a description) of the configured architecture."""
    import open_clip

    custom = config.model_config_json
    if isinstance(custom, str):
        weights = read_weight_file(
            custom, "CLIP model config", "give a JSON file with an open_clip model config"
        )
        try:
            custom = json.loads(weights.data)
        except ValueError as exc:
            raise ConfigError(f"{config.model_config_json}: not JSON: {exc}") from None
    if custom is not None:
        if not isinstance(custom, dict):
            raise ConfigError("model_config must be a JSON object (an open_clip model config)")
        model_cfg = copy.deepcopy(custom.get("model_cfg", custom))
        preprocess = dict(custom.get("preprocess_cfg", {}))
        name = f"custom:{json.dumps(model_cfg, sort_keys=True)}"
    else:
        if ":" in config.model:
            raise ConfigError(
                f"model {config.model!r}: hub and local-dir schemas are not supported; give a built-in "
                "architecture name, or model_config with its open_clip_config.json"
            )
        model_cfg = open_clip.get_model_config(config.model.replace("/", "-"))
        if model_cfg is None:
            raise ConfigError(
                f"unknown open_clip architecture {config.model!r}; available: "
                f"{', '.join(open_clip.list_models()[:12])}, ... (or give model_config)"
            )
        preprocess, name = {}, config.model
    missing = [key for key in ("embed_dim", "vision_cfg", "text_cfg") if key not in model_cfg]
    if missing:
        raise ConfigError(f"model_config lacks {', '.join(missing)} (not an open_clip model config)")
    return model_cfg, preprocess, name


def _build_model(model_cfg: dict[str, Any]) -> torch.nn.Module:
    """An untrained open_clip model; towers that would fetch pretrained weights are told not to."""
    import open_clip

    model_cfg = copy.deepcopy(model_cfg)
    vision_cfg, text_cfg = model_cfg["vision_cfg"], model_cfg["text_cfg"]
    if "timm_model_name" in vision_cfg:
        vision_cfg["timm_model_pretrained"] = False
    if "hf_model_name" in text_cfg:
        text_cfg["hf_model_pretrained"] = False
    custom_text = model_cfg.pop("custom_text", False) or "hf_model_name" in text_cfg
    if "multimodal_cfg" in model_cfg:
        raise ConfigError("CoCa models are not supported (use a CLIP architecture)")
    model_class = open_clip.CustomTextCLIP if custom_text else open_clip.CLIP
    try:
        return model_class(**model_cfg)
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"invalid open_clip model config: {exc}") from None


def _tokenizer(text_cfg: dict[str, Any], context_length: int | None) -> Any:
    import open_clip

    if text_cfg.get("hf_tokenizer_name") or text_cfg.get("hf_model_name"):
        raise ConfigError(
            "this architecture uses a Hugging Face tokenizer, which would be downloaded; only models "
            "with open_clip's bundled tokenizer are supported"
        )
    return open_clip.SimpleTokenizer(context_length=context_length or text_cfg.get("context_length", 77))


def _fit_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Adapt older open_clip layouts (text tower at the top level, 0-d logit scale)."""
    from open_clip.model import convert_to_custom_text_state_dict

    if "positional_embedding" in state and not hasattr(model, "positional_embedding"):
        state = convert_to_custom_text_state_dict(state)
    for key in ("logit_scale", "logit_bias"):
        target = getattr(model, key, None)
        if key in state and isinstance(target, torch.Tensor) and state[key].shape != target.shape:
            state[key] = state[key].reshape(target.shape)
    return state


def load_clip(config: ClipConfig, device: torch.device | str | None = None) -> ClipEncoder:
    """Build the configured open_clip model and load the user's weights into it (strictly)."""
    import open_clip

    model_cfg, preprocess, name = _model_config(config)
    weights = read_weight_file(config.checkpoint, "CLIP", HOW_TO)
    model = _build_model(model_cfg)
    state = _fit_state(model, load_state_dict(weights, "CLIP"))
    check_keys(model, state, weights.url, "CLIP")
    model.requires_grad_(False)
    size = model_cfg["vision_cfg"].get("image_size", 224)
    size = size if isinstance(size, int) else int(min(size))
    mean = config.image_mean or tuple(preprocess.get("mean", open_clip.OPENAI_DATASET_MEAN))
    std = config.image_std or tuple(preprocess.get("std", open_clip.OPENAI_DATASET_STD))
    encoder = ClipEncoder(
        model.eval(),
        size,
        mean,
        std,
        _tokenizer(model_cfg["text_cfg"], config.context_length),
        feature_dim=int(model_cfg["embed_dim"]),
        architecture=name,
        fid_features=config.fid_features,
        weights_sha256=state_digest(state),
    )
    logger.info("loaded CLIP %s (%d-d features) from %s", config.model, encoder.feature_dim, weights.url)
    return encoder.to(pick_device(device)).eval()


def from_config(config: ClipConfig) -> ClipEncoder:
    """The registry's factory."""
    return load_clip(config)
