"""Entry point of the ``infd`` command: a click group filled by the plugins' ``infd_cli_commands``."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from infd_core.errors import InfdError
from infd_core.plugins import InfdPluginManager, get_plugin_manager


class _CliLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"infd: {record.levelname.lower()}: {record.getMessage()}"


def configure_logging(verbosity: int) -> None:
    """Send library logs to stderr: warnings by default, info with -v, debug with -vv."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger()
    if not any(getattr(h, "_infd", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_CliLogFormatter())
        handler._infd = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)


def build_cli(manager: InfdPluginManager | None = None) -> click.Group:
    """The ``infd`` group with every plugin's subcommands (the core's own included)."""
    manager = manager or get_plugin_manager()

    @click.group(name="infd", context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
    @click.pass_context
    def cli(ctx: click.Context, verbose: int) -> None:
        """Resolution-agnostic diffusion models: train, sample and inspect from configs."""
        configure_logging(verbose)
        ctx.obj = manager

    manager.hook.infd_cli_commands(cli=cli)
    return cli


def run_cli(argv: Sequence[str] | None = None, manager: InfdPluginManager | None = None) -> int:
    """Run the CLI and return its exit status; infd errors print one line (status 2 for usage errors)."""
    configure_logging(0)
    try:
        cli = build_cli(manager)
        status = cli.main(
            args=list(argv) if argv is not None else None, prog_name="infd", standalone_mode=False
        )
    except click.exceptions.Abort:
        click.echo("infd: aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except InfdError as exc:
        click.echo(f"infd: error: {exc}", err=True)
        return exc.exit_code
    return status if isinstance(status, int) else 0


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point of ``infd``."""
    sys.exit(run_cli(argv))
