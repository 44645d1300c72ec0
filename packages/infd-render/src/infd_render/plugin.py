"""infd hooks of infd-render: the LIIF and CLIF renderers and the ``infd render`` command.

Kept light: nothing here imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from infd_core import ComponentSpec, hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def infd_renderers() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="clif",
            factory="infd_render.clif:CLIFRenderer.from_config",
            config="infd_render.configs:CLIFConfig",
            description="CLIF (INFD): nearest feature + relative coordinate + cell, rendered by a small CNN",
        ),
        ComponentSpec(
            name="liif",
            factory="infd_render.liif:LIIFRenderer.from_config",
            config="infd_render.configs:LIIFConfig",
            description="LIIF: pointwise MLP on nearest feature, relative coordinate and cell",
        ),
    ]


@hookimpl
def infd_cli_commands(cli: click.Group) -> None:
    from infd_render.cli import render_command

    cli.add_command(render_command)
