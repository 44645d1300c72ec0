"""infd hooks of the INFD plugin (no torch imported here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infd_core import ComponentSpec, hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def infd_pipelines() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="infd",
            factory="infd_infd.pipeline:InfdPipeline",
            config="infd_infd.config:InfdConfig",
            description="INFD: latent diffusion of image neural fields (CLIF), rendered at any resolution",
            demo="infd_infd.demo:demo_config",
        )
    ]


@hookimpl
def infd_cli_commands(cli: click.Group) -> None:
    from infd_infd.cli import layout_command

    cli.add_command(layout_command)
