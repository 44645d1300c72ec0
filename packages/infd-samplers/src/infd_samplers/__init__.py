"""infd-samplers: stateless diffusion samplers, guidance, ODE likelihood and GUD's sliding window.

Names are imported lazily so that loading the plugin (``infd plugins``) does not import torch.
"""

from __future__ import annotations

from infd_core.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "NonFiniteError": "infd_samplers.errors",
    "SamplerInputError": "infd_samplers.errors",
    "PARAMETERISATIONS": "infd_samplers.parameterisation",
    "convert": "infd_samplers.parameterisation",
    "to_x0_and_eps": "infd_samplers.parameterisation",
    "from_x0_and_eps": "infd_samplers.parameterisation",
    "score_from_eps": "infd_samplers.parameterisation",
    "v_from_x0_and_eps": "infd_samplers.parameterisation",
    "mollified_mean_from_x0": "infd_samplers.parameterisation",
    "mollified_mean_from_noise": "infd_samplers.parameterisation",
    "Denoiser": "infd_samplers.denoiser",
    "EDMPreconditioning": "infd_samplers.denoiser",
    "Prediction": "infd_samplers.denoiser",
    "as_denoiser": "infd_samplers.denoiser",
    "ScheduleView": "infd_samplers.schedule_view",
    "time_grid": "infd_samplers.grids",
    "white_noise": "infd_samplers.noise",
    "mollified_noise": "infd_samplers.noise",
    "measure_noise": "infd_samplers.noise",
    "unmollify": "infd_samplers.noise",
    "SamplerStep": "infd_samplers.progress",
    "progress_events": "infd_samplers.progress",
    "GuidanceStep": "infd_samplers.guidance",
    "GradientGuidance": "infd_samplers.guidance",
    "ReplacementConditioning": "infd_samplers.guidance",
    "posterior_sampling": "infd_samplers.guidance",
    "reconstruction_guidance": "infd_samplers.guidance",
    "ddpm": "infd_samplers.ancestral",
    "ddim": "infd_samplers.ancestral",
    "ddim_transition": "infd_samplers.ancestral",
    "ddim_invert": "infd_samplers.ancestral",
    "probability_flow": "infd_samplers.ode",
    "probability_flow_encode": "infd_samplers.ode",
    "reverse_sde": "infd_samplers.sde",
    "LogLikelihood": "infd_samplers.likelihood",
    "ode_log_likelihood": "infd_samplers.likelihood",
    "dequantise": "infd_samplers.likelihood",
    "bits_per_dim": "infd_samplers.likelihood",
    "bin_width_of": "infd_samplers.likelihood",
    "sliding_window": "infd_samplers.sliding_window",
    "sample_batch": "infd_samplers.batching",
    "sample_generators": "infd_samplers.batching",
    "ConfiguredSampler": "infd_samplers.factories",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
