"""The core's subcommands: plugins, checkpoint, config, train, sample, run, demo."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from infd_core.cli.checkpoint_commands import checkpoint_group
from infd_core.config import RunConfig, config_schema, dump_run_config, resolve_run_config
from infd_core.config_files import apply_overrides
from infd_core.errors import UsageError
from infd_core.plugins import InfdPluginManager
from infd_core.registry import COMPONENT_KINDS

if TYPE_CHECKING:  # torch is imported by the commands that run models, never by --help or plugins
    from infd_core.runner import Runner, RunResult

set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value, e.g. --set config.steps=100 (repeatable).",
)


def nproc_option_for(work: str) -> Any:
    """A ``--nproc N`` option whose help says what the ranks share (``work``)."""
    return click.option(
        "--nproc",
        type=click.IntRange(min=1),
        default=None,
        help=f"Start this many ranks through torchrun ({work}).",
    )


#: ``--nproc`` of training commands (train, run).
nproc_option = nproc_option_for("DDP training; sampling shares the samples or tiles among ranks")
#: ``--nproc`` of commands that only write outputs (sample, render).
output_nproc_option = nproc_option_for("the ranks share the samples or tiles of the output")


def launch_if_requested(nproc: int | None) -> bool:
    """With ``--nproc N`` (outside torchrun), run this same command as N ranks; True when done."""
    if nproc is None:
        return False
    from infd_core.distributed import launched_by_torchrun

    if launched_by_torchrun():
        return False
    from infd_core.cli.main import ARGV
    from infd_core.launch import launch

    launch(nproc, ARGV)
    return True


def _manager() -> InfdPluginManager:
    return click.get_current_context().find_root().obj


def cli_runner() -> Runner:
    """A runner with the CLI's plugin manager and tqdm progress (on rank 0); for plugin commands too."""
    from infd_core.cli.progress import TqdmProgress
    from infd_core.distributed import launch_rank
    from infd_core.runner import Runner

    return Runner(_manager(), progress=TqdmProgress(enabled=launch_rank() == 0))


def plugins_report(manager: InfdPluginManager) -> dict[str, Any]:
    """Every plugin with its distribution, version, hooks and components, plus failures."""
    registry = manager.registry()
    plugins = []
    for info in manager.plugins():
        components: dict[str, list[str]] = {}
        for spec in registry.specs():
            if spec.plugin == info.name:
                components.setdefault(spec.kind, []).append(spec.name)
        plugins.append(
            {
                "name": info.name,
                "module": info.module,
                "distribution": info.distribution,
                "version": info.version,
                "hooks": list(info.hooks),
                "components": components,
            }
        )
    failures = [vars(f) for f in manager.failures]
    return {"plugins": plugins, "failures": failures}


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def plugins_command(as_json: bool) -> None:
    """List installed plugins, their distributions and the components they register."""
    report = plugins_report(_manager())
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for plugin in report["plugins"]:
        version = f" {plugin['version']}" if plugin["version"] else ""
        click.echo(f"{plugin['name']} ({plugin['distribution']}{version})")
        for kind, names in plugin["components"].items():
            click.echo(f"  {kind}: {', '.join(names)}")
        if not plugin["components"]:
            click.echo(f"  hooks: {', '.join(plugin['hooks']) or '-'}")
    for failure in report["failures"]:
        click.echo(f"FAILED {failure['name']} ({failure['distribution'] or '?'}): {failure['error']}")


@click.group("config")
def config_group() -> None:
    """Inspect config schemas and resolved configs."""


@config_group.command("schema")
@click.argument("name")
@click.option("--kind", type=click.Choice(COMPONENT_KINDS), help="Component kind, if NAME is ambiguous.")
def config_schema_command(name: str, kind: str | None) -> None:
    """Print the JSON schema of a pipeline's run config (or of any component's config)."""
    click.echo(json.dumps(config_schema(name, _manager().registry(), kind), indent=2))


@config_group.command("show")
@click.argument("config_path", metavar="CONFIG")
@set_option
def config_show_command(config_path: str, overrides: Sequence[str]) -> None:
    """Validate a run config (with overrides) and print it with every default filled in."""
    from infd_core.config import load_run_config

    run = load_run_config(config_path, _manager().registry(), overrides)
    click.echo(json.dumps(dump_run_config(run), indent=2))


def echo_result(result: RunResult) -> None:
    """Print a run's checkpoint, written paths and metrics (rank 0 only); for plugin commands too."""
    from infd_core.distributed import current

    if not current().is_main:
        return
    if result.checkpoint:
        click.echo(f"checkpoint: {result.checkpoint}")
    for path in result.samples:
        click.echo(f"wrote: {path}")
    if result.metrics:
        click.echo("metrics: " + ", ".join(f"{k}={v:.6g}" for k, v in result.metrics.items()))


overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace an output that infd wrote with other settings."
)


@click.command("train")
@click.argument("config_path", metavar="CONFIG")
@set_option
@click.option("--resume", metavar="CHECKPOINT", help="Continue training from this checkpoint.")
@click.option("--device", help="auto, cpu, cuda or cuda:N (overrides the config).")
@overwrite_option
@nproc_option
def train_command(
    config_path: str,
    overrides: Sequence[str],
    resume: str | None,
    device: str | None,
    overwrite: bool,
    nproc: int | None,
) -> None:
    """Train the pipeline a run config describes; writes <output>/checkpoint.

    An output folder that holds a training run of other settings is refused (--overwrite replaces it)."""
    if launch_if_requested(nproc):
        return
    extra = [*overrides, *([f"train.resume={resume}"] if resume else []), *_device(device)]
    extra += ["train.overwrite=true"] if overwrite else []
    runner = cli_runner()
    echo_result(runner.train(runner.load_config(config_path, extra)))


def _device(device: str | None) -> list[str]:
    return [f"device={device}"] if device else []


def sample_overrides(
    size: str | None,
    out: str | None,
    num_samples: int | None,
    resume: bool = False,
    force: bool = False,
    overwrite: bool = False,
) -> list[str]:
    """``--set`` overrides of the sample settings from ``--size``, ``--out``, ``--num``, ``--resume``,
    ``--force`` and ``--overwrite``."""
    extra = ["sample.force=true"] if force else []
    extra += ["sample.overwrite=true"] if overwrite else []
    parsed = _parse_size(size)
    if parsed is not None:
        extra.append(f"sample.size={json.dumps(parsed)}")
    if out:
        extra.append(f"sample.out={json.dumps(out)}")
    if num_samples:
        extra.append(f"sample.num_samples={num_samples}")
    if resume:
        extra.append("sample.resume=true")
    return extra


def _parse_size(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        size = [int(part) for part in text.lower().split("x")]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not like 256 or 8192x8192", param_hint="--size") from None
    if any(s <= 0 for s in size):
        raise click.BadParameter("sizes must be positive", param_hint="--size")
    return size


@click.command("sample")
@click.argument("source", metavar="CONFIG|CHECKPOINT")
@set_option
@click.option("--size", help="Output size, e.g. 256 or 8192x8192.")
@click.option("--out", help="Output path or URL (e.g. out.zarr).")
@click.option("--num", "num_samples", type=click.IntRange(min=1), help="Number of samples.")
@click.option("--device", help="auto, cpu, cuda or cuda:N (overrides the config).")
@click.option(
    "--resume",
    "resume_out",
    is_flag=True,
    help="Continue an interrupted output, keeping its finished tiles (also what a rerun of the same "
    "settings does; other settings are refused).",
)
@overwrite_option
@click.option(
    "--force", is_flag=True, help="Sample even where the estimated memory or disk exceeds the machine's."
)
@output_nproc_option
def sample_command(
    source: str,
    overrides: Sequence[str],
    size: str | None,
    out: str | None,
    num_samples: int | None,
    device: str | None,
    resume_out: bool,
    overwrite: bool,
    force: bool,
    nproc: int | None,
) -> None:
    """Sample from a checkpoint folder, or from the checkpoint of a run config.

    Each output records what made it: a rerun of the same settings continues it (finished tiles kept),
    other settings are refused (--overwrite replaces it)."""
    if launch_if_requested(nproc):
        return
    from infd_core.runner import is_checkpoint_folder

    settings = sample_overrides(size, out, num_samples, resume_out, force, overwrite)
    extra = [*overrides, *_device(device), *settings]
    runner = cli_runner()
    if is_checkpoint_folder(source):
        run = runner.config_from_checkpoint(source, extra)
    else:
        run = runner.load_config(source, extra)
    echo_result(runner.sample(run))


@click.command("run")
@click.argument("config_path", metavar="CONFIG")
@set_option
@click.option("--device", help="auto, cpu, cuda or cuda:N (overrides the config).")
@overwrite_option
@nproc_option
def run_command(
    config_path: str, overrides: Sequence[str], device: str | None, overwrite: bool, nproc: int | None
) -> None:
    """Train and then sample, as the run config says."""
    if launch_if_requested(nproc):
        return
    extra = [*overrides, *_device(device)]
    extra += ["train.overwrite=true", "sample.overwrite=true"] if overwrite else []
    runner = cli_runner()
    echo_result(runner.run(runner.load_config(config_path, extra)))


@click.command("demo")
@click.argument("pipeline", required=False)
@click.option("--out", "output", help="Output folder (default: the demo's own).")
@set_option
def demo_command(pipeline: str | None, output: str | None, overrides: Sequence[str]) -> None:
    """Run a pipeline's embedded demo: a small shipped checkpoint, sampled to the pipeline's outputs.

    PIPELINE may be left out when only one installed pipeline has a demo.
    """
    runner = cli_runner()
    data = apply_overrides(
        runner.demo_config(pipeline), [*overrides, *([f"output={output}"] if output else [])]
    )
    run: RunConfig = resolve_run_config(data, runner.registry, source="demo")
    if not (run.train.enabled or run.sample.enabled):
        raise UsageError("the demo config disables both training and sampling")
    echo_result(runner.run(run))


CORE_COMMANDS = (
    plugins_command,
    checkpoint_group,
    config_group,
    train_command,
    sample_command,
    run_command,
    demo_command,
)
