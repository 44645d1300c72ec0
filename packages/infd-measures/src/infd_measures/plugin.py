"""The ``infd`` plugin of infd-measures: schedules, Gaussian measures, bases and ``infd measures plot``.

Listing components imports nothing heavy: configs and factories are given as import paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from infd_core import ComponentSpec, hookimpl

if TYPE_CHECKING:
    import click

_CONFIGS = "infd_measures.configs"


def _spec(name: str, factory: str, config: str, description: str) -> ComponentSpec:
    return ComponentSpec(name=name, factory=factory, config=f"{_CONFIGS}:{config}", description=description)


@hookimpl
def infd_schedules() -> list[ComponentSpec]:
    """Standard and GUD component-wise noise schedules."""
    return [
        _spec("linear", "infd_measures.schedules:linear_schedule_from_config", "LinearScheduleConfig",
              "DDPM linear beta (T steps) or its continuous limit"),
        _spec("cosine", "infd_measures.schedules:cosine_schedule_from_config", "CosineScheduleConfig",
              "Nichol-Dhariwal cosine schedule (s = 0.008), discrete or continuous"),
        _spec("vp-sde", "infd_measures.schedules:vpsde_schedule_from_config", "VPSDEScheduleConfig",
              "VP-SDE, beta(t) linear in t, continuous or discretised"),
        _spec("linear-soft", "infd_measures.componentwise:linear_soft_from_config",
              "LinearSoftScheduleConfig",
              "GUD linear soft-conditioning schedule per component (eqs. 20-21); build(cfg, prior=...)"),
        _spec("columnwise", "infd_measures.componentwise:columnwise_from_config", "ColumnwiseScheduleConfig",
              "GUD column-wise sequential schedule (eq. 22); build(cfg, prior=...)"),
        _spec("haar-columnwise", "infd_measures.componentwise:haar_columnwise_from_config",
              "HaarColumnwiseScheduleConfig",
              "GUD Haar level x column schedule (sec. 5.3); build(cfg, prior=...)"),
    ]  # fmt: skip


@hookimpl
def infd_measures() -> list[ComponentSpec]:
    """Gaussian measures sampled at arbitrary coordinates."""
    return [
        _spec("white", "infd_measures.measures:WhiteNoise.from_config", "WhiteNoiseConfig",
              "white noise N(0, I) at any coordinates"),
        _spec("mollified", "infd_measures.measures:MollifiedNoise.from_config", "MollifiedNoiseConfig",
              "mollified noise N(0, TT*), Gaussian T of infty-Diff eq. 8, on grids and sparse points"),
        _spec("gp", "infd_measures.gaussian_process:GaussianProcess.from_config", "GaussianProcessConfig",
              "Gaussian process (RBF, Matern 1/2, 3/2, 5/2); Cholesky or spectral; L2 or Sobolev norm"),
    ]  # fmt: skip


@hookimpl
def infd_bases() -> list[ComponentSpec]:
    """GUD bases."""
    return [
        _spec("pixel", "infd_measures.bases.pixel:PixelBasis.from_config", "PixelBasisConfig",
              "pixel basis (U = I)"),
        _spec("pca", "infd_measures.bases.pca:PCABasis.from_config", "PCABasisConfig",
              "PCA basis fitted from data, eigenvalues sorted and floored; build(cfg, data=...)"),
        _spec("fft", "infd_measures.bases.fft:FFTBasis.from_config", "FFTBasisConfig",
              "real orthonormal FFT basis (rfft degrees of freedom, sqrt(2)-scaled)"),
        _spec("haar", "infd_measures.bases.haar:HaarBasis.from_config", "HaarBasisConfig",
              "multi-level orthonormal Haar wavelet basis (GUD App. D)"),
    ]  # fmt: skip


@hookimpl
def infd_cli_commands(cli: click.Group) -> None:
    """Add ``infd measures`` (``plot``)."""
    from infd_measures.cli import measures_group

    cli.add_command(measures_group)
