"""``infd checkpoint info|prune``: what a checkpoint holds, and a copy without its optimizer state."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click


@click.group("checkpoint")
def checkpoint_group() -> None:
    """Inspect checkpoints, or copy one without some of its parts."""


@checkpoint_group.command("info")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info_command(url: str, as_json: bool) -> None:
    """Pipeline, steps and each part's tensors, values and size (read from file headers only)."""
    from infd_core.checkpoint_parts import PRUNED_KEY, checkpoint_summary

    summary = checkpoint_summary(url)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    steps = ", ".join(f"{k}={v}" for k, v in summary["steps"].items()) or "-"
    click.echo(f"{url}: pipeline {summary['pipeline']}, {steps}")
    click.echo(f"  {'part':<24}{'tensors':>8}{'values':>14}{'MiB':>10}")
    for name, part in summary["parts"].items():
        click.echo(f"  {name:<24}{part['tensors']:>8}{part['values']:>14,}{part['bytes'] / 2**20:>10.2f}")
    total = sum(part["bytes"] for part in summary["parts"].values())
    click.echo(f"  {'total':<46}{total / 2**20:>10.2f}")
    if summary[PRUNED_KEY]:
        click.echo(f"  pruned: {', '.join(summary[PRUNED_KEY])}")


@checkpoint_group.command("prune")
@click.argument("source")
@click.argument("target")
@click.option(
    "--drop", multiple=True, required=True, metavar="PART", help="A part to leave out (repeatable)."
)
@click.option("--overwrite", is_flag=True, help="Replace TARGET if it exists.")
def prune_command(source: str, target: str, drop: Sequence[str], overwrite: bool) -> None:
    """Copy SOURCE to TARGET without the parts named by --drop (e.g. optimizer: sampling never reads it;
    resuming from the copy restarts that optimizer)."""
    from infd_core.checkpoint_parts import checkpoint_summary, prune_checkpoint

    kept = prune_checkpoint(source, target, drop, overwrite=overwrite)
    before = sum(p["bytes"] for p in checkpoint_summary(source)["parts"].values())
    after = sum(p["bytes"] for p in checkpoint_summary(target)["parts"].values())
    click.echo(
        f"wrote: {target} (kept {', '.join(kept)}; dropped {', '.join(sorted(drop))}; "
        f"{before / 2**20:.2f} -> {after / 2**20:.2f} MiB of tensors)"
    )
