"""``infd io``: inspect, preview and export OME-Zarr image stores."""

from __future__ import annotations

import json

import click


@click.group(name="io")
def io_group() -> None:
    """Inspect, preview and export OME-Zarr images."""


@io_group.command(name="info")
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info_command(path: str, as_json: bool) -> None:
    """Print shape, levels, chunks and completion of the OME-Zarr image at PATH (and how far an
    out-of-core sample bound for it got)."""
    from infd_io.naming import sampling_state_url
    from infd_io.scratch import describe_progress, read_progress
    from infd_io.store_info import store_info

    state = path if path.rstrip("/").endswith(".state") else sampling_state_url(path)
    progress = read_progress(state)
    if progress is not None and (state == path or not _exists(path)):
        data = {"url": path, "sampling": progress}
        click.echo(
            json.dumps(data, indent=2) if as_json else f"{path}\n  {describe_progress(progress, state)}"
        )
        return
    info = store_info(path)
    if as_json:
        click.echo(json.dumps(info.to_json() | ({"sampling": progress} if progress else {}), indent=2))
    else:
        click.echo(info.to_text() + (f"\n  {describe_progress(progress, state)}" if progress else ""))


def _exists(url: str) -> bool:
    from infd_core.outputs import filesystem

    fs, location = filesystem(url)
    return bool(fs.exists(location))


@io_group.command(name="preview")
@click.argument("path")
@click.argument("out")
@click.option("--max-size", default=2048, show_default=True, help="Largest side of the preview.")
def preview_command(path: str, out: str, max_size: int) -> None:
    """Write a PNG preview of the image at PATH to OUT."""
    from infd_io.export import write_preview

    height, width = write_preview(path, out, max_size=max_size)
    click.echo(f"{out}: {width}x{height}")


@io_group.command(name="export")
@click.argument("path")
@click.argument("out")
@click.option("--level", default=0, show_default=True, help="Pyramid level to export.")
def export_command(path: str, out: str, level: int) -> None:
    """Export one level of a small image at PATH to OUT (.png, .tif or .tiff)."""
    from infd_io.export import export_image

    export_image(path, out, level=level)
    click.echo(out)
