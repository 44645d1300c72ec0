"""∞-Diff for infd (Bond-Taylor & Willcocks): resolution-agnostic diffusion on subsampled coordinates.

Its building blocks are public API for other pipelines (e.g. ∞-Brush); names are imported lazily so that
loading the plugin (``infd plugins``) does not import torch.
"""

from __future__ import annotations

from infd_core.lazy import lazy_exports

_EXPORTS = {
    "DataConfig": "infd_inftydiff.config",
    "DiffusionConfig": "infd_inftydiff.config",
    "OptimConfig": "infd_inftydiff.config",
    "merge_model_preset": "infd_inftydiff.config",
    "InftyDiffConfig": "infd_inftydiff.config",
    "DenoiserConfig": "infd_inftydiff.model_config",
    "GridUNetConfig": "infd_inftydiff.model_config",
    "PRESETS": "infd_inftydiff.model_config",
    "InftyDiffDenoiser": "infd_inftydiff.denoiser",
    "timestep_embedding": "infd_inftydiff.denoiser",
    "GridUNet": "infd_inftydiff.grid_unet",
    "ModulatedLayerNorm": "infd_inftydiff.sparse_blocks",
    "SparseResBlock": "infd_inftydiff.sparse_blocks",
    "EMA": "infd_inftydiff.training",
    "LossLog": "infd_inftydiff.training",
    "optimise": "infd_inftydiff.optimisation",
    "TrainingBatch": "infd_inftydiff.training",
    "make_batch": "infd_inftydiff.training",
    "read_points": "infd_inftydiff.training",
    "check_size": "infd_inftydiff.sampling",
    "estimate_resources": "infd_inftydiff.sampling",
    "load_image": "infd_inftydiff.sampling",
    "mollified_ddim": "infd_inftydiff.sampling",
    "scaled_mollified_noise": "infd_inftydiff.sampling",
    "to_uint8": "infd_inftydiff.sampling",
    "write_image": "infd_inftydiff.sampling",
    "finished_outputs": "infd_inftydiff.sampling",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
