"""``infd measures``: command-line helpers of infd-measures (imports torch only when a command runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

SCHEDULES = ("linear-soft", "columnwise", "haar-columnwise")
BASES = ("pixel", "fft", "haar", "pca")


def _parse_components(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        indices = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter("expected comma-separated component indices, e.g. 0,5,10") from None
    if not indices or any(i < 0 for i in indices):
        raise click.BadParameter("expected non-negative component indices, e.g. 0,5,10")
    return indices


@click.group("measures")
def measures_group() -> None:
    """Noise schedules, Gaussian measures and GUD bases."""


@measures_group.command("plot")
@click.option("--schedule", type=click.Choice(SCHEDULES), default="linear-soft", show_default=True)
@click.option("--basis", type=click.Choice(BASES), default="fft", show_default=True)
@click.option("--size", type=click.IntRange(min=2), default=16, show_default=True, help="image side (pixels)")
@click.option("--components", callback=_parse_components, help="comma-separated indices [default: 8 spread]")
@click.option("--prior", type=click.Choice(("isotropic", "data")), default="isotropic", show_default=True)
@click.option("--softness", type=float, default=1.0, show_default=True, help="linear-soft: 1/a (> 0, inf ok)")
@click.option("--ordering-r", type=float, default=0.0, show_default=True, help="linear-soft: frequency mix r")
@click.option("--a", "a", type=float, default=0.5, show_default=True, help="haar-columnwise: level offset a")
@click.option("--b", "b", type=float, default=0.5, show_default=True, help="column offset b (columnwise)")
@click.option("--levels", type=click.IntRange(min=1), default=3, show_default=True, help="Haar levels")
@click.option(
    "--data", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=".npy array (B, H, W) or (B, C, H, W) to fit variances [default: synthetic Matern-3/2 GP images]",
)  # fmt: skip
@click.option("--samples", type=click.IntRange(min=2), help="synthetic images [default: 4 x size²]")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--num-times", type=click.IntRange(min=2), default=201, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="PNG to write")
def plot_command(**options: Any) -> None:
    """Plot σ_i(t), γ_i(t) and logSNR_i(t) of chosen components of a GUD schedule (GUD Fig. 2)."""
    from pydantic import ValidationError

    from infd_measures.errors import ParameterError

    try:
        path = _plot(**options)
    except ValidationError as exc:
        raise click.UsageError(_validation_message(exc)) from None
    except ParameterError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {path}")


def _validation_message(exc: Any) -> str:
    return "; ".join(
        f"--{'.'.join(str(p) for p in e['loc']).replace('_', '-')}: {e['msg']}" for e in exc.errors()
    )


def _load_data(options: dict[str, Any]) -> Any:
    import numpy as np
    import torch

    from infd_measures.errors import ParameterError

    if options["data"] is not None:
        try:
            array = np.load(options["data"], allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ParameterError(f"cannot read {options['data']}: {exc}") from None
        return torch.as_tensor(array, dtype=torch.float64)
    from infd_measures.gaussian_process import GaussianProcess
    from infd_measures.kernels import StationaryKernel

    generator = torch.Generator().manual_seed(options["seed"])
    process = GaussianProcess(StationaryKernel("matern32", 1.0, 0.1))
    size = options["size"]
    samples = options["samples"] or 4 * size * size  # enough for a full-rank covariance
    images = process.sample_grid((size, size), generator, batch_shape=(samples,), dtype=torch.float64)
    # plus a noise floor like the uniform dequantisation of 8-bit images scaled to [-1, 1]
    return images + torch.randn(images.shape, generator=generator, dtype=torch.float64) / 128.0


def _plot(**options: Any) -> Path:
    from infd_measures import configs
    from infd_measures.bases import FFTBasis, HaarBasis, PCABasis, PixelBasis
    from infd_measures.componentwise import (
        columnwise_from_config,
        haar_columnwise_from_config,
        linear_soft_from_config,
    )
    from infd_measures.errors import ParameterError
    from infd_measures.plotting import plot_component_schedules
    from infd_measures.priors import ComponentPrior

    name = options["schedule"]
    if name == "linear-soft":
        config: Any = configs.LinearSoftScheduleConfig(
            softness=options["softness"], ordering_r=options["ordering_r"]
        )
        build = linear_soft_from_config
    elif name == "columnwise":
        config, build = configs.ColumnwiseScheduleConfig(b=options["b"]), columnwise_from_config
    else:
        config = configs.HaarColumnwiseScheduleConfig(a=options["a"], b=options["b"])
        build = haar_columnwise_from_config
    data = _load_data(options)
    shape = tuple(int(s) for s in data.shape[-2:])
    basis_name = options["basis"]
    if basis_name == "pixel":
        basis: Any = PixelBasis(shape)
    elif basis_name == "fft":
        basis = FFTBasis(shape)
    elif basis_name == "haar":
        basis = HaarBasis(shape, levels=options["levels"])
    else:
        basis = PCABasis.fit(data)
    prior = ComponentPrior.fit(basis, data, options["prior"])
    schedule = build(config, prior=prior)
    components = options["components"]
    if components is None:
        count = min(8, schedule.num_components)
        components = sorted(
            {round(i * (schedule.num_components - 1) / max(count - 1, 1)) for i in range(count)}
        )
    if max(components) >= schedule.num_components:
        raise ParameterError(f"--components must be < {schedule.num_components} for a {shape} image")
    title = f"{name}, {basis_name} basis, {options['prior']} prior"
    return plot_component_schedules(
        schedule, components, options["out"], num_times=options["num_times"], title=title
    )


__all__ = ["measures_group"]
