"""infd-funcdiff: function-space diffusion (Kerrigan et al.) with GP noise and neural operators.

Names are imported lazily so that loading the plugin (``infd plugins``) does not import torch.
"""

from __future__ import annotations

from infd_core.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "FuncDiffInputError": "infd_funcdiff.errors",
    "FuncDiffConfig": "infd_funcdiff.config",
    "Curves": "infd_funcdiff.curves",
    "check_points": "infd_funcdiff.curves",
    "MinMaxScaling": "infd_funcdiff.curves",
    "mogp_curves": "infd_funcdiff.datasets",
    "gp_curves": "infd_funcdiff.datasets",
    "linear_curves": "infd_funcdiff.datasets",
    "file_curves": "infd_funcdiff.datasets",
    "CurveNoise": "infd_funcdiff.losses",
    "noise_loss": "infd_funcdiff.losses",
    "FNO1d": "infd_funcdiff.fno",
    "GraphNeuralOperator": "infd_funcdiff.gno",
    "functional_statistics": "infd_funcdiff.statistics",
    "compare_statistics": "infd_funcdiff.statistics",
    "plot_statistics": "infd_funcdiff.statistics",
    "sample_curves": "infd_funcdiff.sampling",
    "FuncDiffPipeline": "infd_funcdiff.pipeline",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
