"""The ``infd`` command line."""

from infd_core.cli.main import build_cli, main

__all__ = ["build_cli", "main"]
