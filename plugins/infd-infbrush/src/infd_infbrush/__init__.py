"""∞-Brush for infd (Le, Graikos et al., ECCV 2024): conditional diffusion in function space.

Names are imported lazily so that loading the plugin (``infd plugins``) does not import torch.
"""

from __future__ import annotations

from infd_core.lazy import lazy_exports

_EXPORTS = {
    "TokenSet": "infd_infbrush.attention",
    "KeyValueSums": "infd_infbrush.attention",
    "LinearCrossAttention": "infd_infbrush.attention",
    "LinearSelfAttention": "infd_infbrush.attention",
    "key_value_sums": "infd_infbrush.attention",
    "linear_attention": "infd_infbrush.attention",
    "ConditionEmbedding": "infd_infbrush.conditioning",
    "PatchEncoder": "infd_infbrush.conditioning",
    "load_encoder": "infd_infbrush.conditioning",
    "save_encoder": "infd_infbrush.conditioning",
    "InfBrushDenoiser": "infd_infbrush.denoiser",
    "ConditionError": "infd_infbrush.errors",
    "EncoderError": "infd_infbrush.errors",
    "BrushDenoiserConfig": "infd_infbrush.model_config",
    "InfBrushConfig": "infd_infbrush.config",
    "InfBrushPipeline": "infd_infbrush.pipeline",
    "sample_images": "infd_infbrush.sampling",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
