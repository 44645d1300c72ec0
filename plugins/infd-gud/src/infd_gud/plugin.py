"""The ``infd`` plugin of infd-gud: the ``gud`` pipeline and its γ-conditioned U-Net (no torch import)."""

from __future__ import annotations

from infd_core import ComponentSpec, hookimpl


@hookimpl
def infd_pipelines() -> list[ComponentSpec]:
    """GUD: component-wise schedules in a chosen basis, likelihood, infinite extension."""
    return [
        ComponentSpec(
            name="gud",
            factory="infd_gud.pipeline:GudPipeline",
            config="infd_gud.config:GudConfig",
            description="GUD diffusion: pixel/PCA/FFT/Haar basis, whitened prior, component-wise schedules",
            demo="infd_gud.demo:demo_config",
        )
    ]


@hookimpl
def infd_models() -> list[ComponentSpec]:
    """The score network conditioned on the full noising state γ ∈ R^d."""
    return [
        ComponentSpec(
            name="gud-unet",
            factory="infd_gud.network:GammaUNet.from_config",
            config="infd_gud.config:NetworkSettings",
            description="U-Net with cross-attention to an MLP-mixer embedding of [gamma, position labels]",
        )
    ]
