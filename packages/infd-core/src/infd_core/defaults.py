"""The core's own plugin: registered like any other, before the entry points.

It contributes the built-in subcommands of ``infd``; pipelines and components come from other plugins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from infd_core.hookspecs import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl(tryfirst=True)
def infd_cli_commands(cli: click.Group) -> None:
    """Add plugins, config, train, sample, run and demo (first, so plugins cannot shadow them)."""
    from infd_core.cli.commands import CORE_COMMANDS

    for command in CORE_COMMANDS:
        cli.add_command(command)
