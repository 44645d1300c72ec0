"""infd hooks of the ∞-Brush plugin (no torch imported here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infd_core import ComponentSpec, hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def infd_pipelines() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="infbrush",
            factory="infd_infbrush.pipeline:InfBrushPipeline",
            config="infd_infbrush.config:InfBrushConfig",
            description="∞-Brush: conditional function-space diffusion, linear cross-attention, up to 4096²",
            demo="infd_infbrush.demo:demo_config",
        )
    ]


@hookimpl
def infd_models() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="infbrush-denoiser",
            factory="infd_infbrush.denoiser:InfBrushDenoiser",
            config="infd_infbrush.model_config:BrushDenoiserConfig",
            description="sparse operators + linear cross-/self-attention around a grid U-Net, predicting Tξ",
        )
    ]


@hookimpl
def infd_cli_commands(cli: click.Group) -> None:
    from infd_infbrush.cli import infbrush_group

    cli.add_command(infbrush_group)
