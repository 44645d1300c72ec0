"""Entry point of the ``infd`` command: a click group filled by the plugins' ``infd_cli_commands``."""

from __future__ import annotations

import logging
import os
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


def _print_versions(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from infd_core.versions import version_report

    click.echo("\n".join(version_report()))
    ctx.exit()


def build_cli(manager: InfdPluginManager | None = None) -> click.Group:
    """The ``infd`` group with every plugin's subcommands (the core's own included)."""
    manager = manager or get_plugin_manager()

    @click.group(name="infd", context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
    @click.option(
        "--version",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_print_versions,
        help="Print the installed infd distributions, torch, the device and Python, then exit.",
    )
    @click.pass_context
    def cli(ctx: click.Context, verbose: int) -> None:
        """Resolution-agnostic diffusion models: train, sample and inspect from configs."""
        configure_logging(verbose)
        ctx.obj = manager

    manager.add_cli_commands(cli)
    return cli


#: The arguments of the running command (``--nproc`` starts the ranks with the same ones).
ARGV: list[str] = []


def _error_prefix() -> str:
    """``infd: error`` (and the rank, in a run of several ranks started by torchrun)."""
    if "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return f"infd: error (rank {os.environ['RANK']} of {os.environ['WORLD_SIZE']})"
    return "infd: error"


def run_cli(argv: Sequence[str] | None = None, manager: InfdPluginManager | None = None) -> int:
    """Run the CLI and return its exit status; infd errors print one line (status 2 for usage errors)."""
    configure_logging(0)
    args = list(argv) if argv is not None else sys.argv[1:]
    ARGV[:] = args
    try:
        cli = build_cli(manager)
        status = cli.main(args=args, prog_name="infd", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("infd: aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except InfdError as exc:
        click.echo(f"{_error_prefix()}: {exc}", err=True)
        leave_process_group(wait=False)
        return exc.exit_code
    except BaseException:
        # A bug or an interrupt: leave the group before the traceback, so that exiting with gloo's
        # threads still running cannot turn the error into an abort (SIGABRT) that hides it.
        leave_process_group(wait=False)
        raise
    leave_process_group(wait=True)
    return status if isinstance(status, int) else 0


def leave_process_group(wait: bool) -> None:
    """Leave a joined process group; after success every rank first waits for the others, so none
    exits while a peer still talks to it."""
    if "torch.distributed" not in sys.modules:  # no group can have been joined
        return
    from infd_core.distributed import barrier, launched_by_torchrun, shutdown
    from infd_core.launch import record_failure

    if launched_by_torchrun():
        if wait:
            barrier()
        else:  # failing: tell the launcher first, peers can fail because of it only once it has left
            record_failure()
        shutdown()


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point of ``infd``."""
    status = run_cli(argv)
    if "torch.distributed" in sys.modules:  # otherwise no group can have been joined
        from infd_core.distributed import exit_rank, launched_by_torchrun

        if launched_by_torchrun():
            exit_rank(status)
    sys.exit(status)
