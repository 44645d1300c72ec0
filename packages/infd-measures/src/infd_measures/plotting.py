"""Plots of component-wise schedules in the style of GUD Fig. 2 (matplotlib, imported lazily)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from infd_measures.componentwise import ComponentwiseSchedule
from infd_measures.errors import ParameterError

logger = logging.getLogger(__name__)


def plot_component_schedules(
    schedule: ComponentwiseSchedule,
    components: Sequence[int],
    path: str | Path,
    *,
    num_times: int = 201,
    title: str | None = None,
) -> Path:
    """Draw σ_i(t), γ_i(t) and the data-aware logSNR_i(t) = log Σ_i - γ_i(t) of ``components`` to a PNG.

    Σ_i is the variance of component i in the diffused space (``schedule.log_variance``). Returns the path.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plotting needs matplotlib: pip install 'infd-measures[plot]' (or matplotlib>=3.7)"
        ) from exc
    indices = [int(i) for i in components]
    if not indices:
        raise ParameterError("choose at least one component to plot")
    bad = [i for i in indices if not 0 <= i < schedule.num_components]
    if bad:
        raise ParameterError(f"components {bad} out of range [0, {schedule.num_components})")
    if num_times < 2:
        raise ParameterError("num_times must be >= 2")
    times = torch.linspace(0.0, 1.0, num_times, dtype=torch.float64)
    gamma = schedule.gamma(times)[:, indices]
    sigma = schedule.sigma(times)[:, indices]
    logsnr = schedule.data_logsnr(times)[:, indices]
    figure = Figure(figsize=(5.0, 7.5), constrained_layout=True)
    FigureCanvasAgg(figure)
    axes = figure.subplots(3, 1, sharex=True)
    panels = ((sigma, r"$\sigma_i(t)$"), (gamma, r"$\gamma_i(t)$"), (logsnr, r"$\log \mathrm{SNR}_i(t)$"))
    for ax, (values, label) in zip(axes, panels, strict=True):
        for column, index in enumerate(indices):
            ax.plot(times.numpy(), values[:, column].numpy(), label=f"{index}")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[1].axhline(float(schedule.gamma_min.min()), color="tab:blue", linestyle="--", linewidth=0.8)
    axes[1].axhline(float(schedule.gamma_max.max()), color="tab:blue", linestyle="--", linewidth=0.8)
    axes[-1].set_xlabel("time t")
    axes[0].legend(title="component", fontsize="small", ncol=2)
    if title:
        axes[0].set_title(title, fontsize="medium")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png", dpi=100)
    logger.info("wrote schedule plot %s", out)
    return out


__all__ = ["plot_component_schedules"]
