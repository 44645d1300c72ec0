"""infd hooks of the ∞-Diff plugin (no torch imported here)."""

from __future__ import annotations

from infd_core import ComponentSpec, hookimpl


@hookimpl
def infd_pipelines() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="inftydiff",
            factory="infd_inftydiff.pipeline:InftyDiffPipeline",
            config="infd_inftydiff.config:InftyDiffConfig",
            description="∞-Diff: mollified diffusion on subsampled coordinates, sampled at any resolution",
            demo="infd_inftydiff.demo:demo_config",
        )
    ]


@hookimpl
def infd_models() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="inftydiff-denoiser",
            factory="infd_inftydiff.denoiser:InftyDiffDenoiser",
            config="infd_inftydiff.model_config:DenoiserConfig",
            description="sparse depthwise operators around a grid U-Net, predicting mollified noise",
        )
    ]
