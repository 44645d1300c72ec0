"""infd-gud: the GUD pipeline (component-wise diffusion in pixel, PCA, FFT or Haar bases).

Names are imported lazily so that loading the plugin (``infd plugins``) does not import torch.
"""

from __future__ import annotations

from infd_core.lazy import lazy_exports

_EXPORTS = {
    "GudConfig": "infd_gud.config",
    "ComponentSpace": "infd_gud.space",
    "GammaUNet": "infd_gud.network",
    "StateSpaceModel": "infd_gud.network",
    "GudPipeline": "infd_gud.pipeline",
    "GudUsageError": "infd_gud.errors",
    "BasisNotFittedError": "infd_gud.errors",
    "stream_strip": "infd_gud.extension",
    "complete_image": "infd_gud.extension",
    "negative_log_likelihood": "infd_gud.likelihood",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
