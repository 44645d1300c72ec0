"""infd-measures: noise schedules, Gaussian measures, the mollifier and GUD bases of infd.

Importing the package is cheap; the names below load their (torch) modules on first access.
"""

from __future__ import annotations

from infd_core.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "ParameterError": "infd_measures.errors",
    "Schedule": "infd_measures.schedules",
    "VPSDESchedule": "infd_measures.schedules",
    "CosineSchedule": "infd_measures.schedules",
    "DiscreteSchedule": "infd_measures.discrete",
    "ComponentwiseSchedule": "infd_measures.componentwise",
    "linear_soft_schedule": "infd_measures.componentwise",
    "columnwise_schedule": "infd_measures.componentwise",
    "haar_columnwise_schedule": "infd_measures.componentwise",
    "noise_components": "infd_measures.componentwise",
    "ordering_variables": "infd_measures.componentwise",
    "soft_conditioning_endpoints": "infd_measures.componentwise",
    "GaussianMeasure": "infd_measures.measures",
    "WhiteNoise": "infd_measures.measures",
    "MollifiedNoise": "infd_measures.measures",
    "GaussianProcess": "infd_measures.gaussian_process",
    "StationaryKernel": "infd_measures.kernels",
    "GaussianMollifier": "infd_measures.mollifier",
    "GaussianDiffusion": "infd_measures.diffusion",
    "grid_coordinates": "infd_measures.coordinates",
    "l2_squared_norm": "infd_measures.norms",
    "sobolev_h1_squared_norm": "infd_measures.norms",
    "Basis": "infd_measures.bases",
    "PixelBasis": "infd_measures.bases",
    "PCABasis": "infd_measures.bases",
    "FFTBasis": "infd_measures.bases",
    "HaarBasis": "infd_measures.bases",
    "ComponentPrior": "infd_measures.priors",
    "plot_component_schedules": "infd_measures.plotting",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
