"""Functional statistics of sets of curves on a common grid: pointwise mean and std, the mean
autocorrelation and the mean power spectrum; their comparison as numbers and a PNG plot."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np


def functional_statistics(values: np.ndarray, max_lag: int | None = None, n_freq: int = 16) -> dict:
    """Statistics of curves ``values (K, P)`` on an evenly spaced grid.

    ``autocorrelation[l]`` is the mean over curves of Σ_i c_i c_{i+l} / Σ_i c_i² (c the curve minus its
    own mean), ``spectrum[k]`` the mean of |rfft(u)/P|² for frequencies k < ``n_freq``.
    """
    u = np.asarray(values, dtype=np.float64)
    if u.ndim != 2 or u.shape[0] < 2 or u.shape[1] < 4:
        raise ValueError(f"statistics need (curves ≥ 2, points ≥ 4) values, got {u.shape}")
    points = u.shape[1]
    max_lag = min(max_lag or points // 2, points - 1)
    centred = u - u.mean(axis=1, keepdims=True)
    energy = np.maximum((centred**2).sum(axis=1), 1e-300)
    acf = np.stack(
        [(centred[:, : points - lag] * centred[:, lag:]).sum(axis=1) / energy for lag in range(max_lag + 1)],
        axis=1,
    )
    spectrum = (np.abs(np.fft.rfft(u, axis=1) / points) ** 2)[:, :n_freq]
    return {
        "mean": u.mean(axis=0),
        "std": u.std(axis=0, ddof=1),
        "autocorrelation": acf.mean(axis=0),
        "spectrum": spectrum.mean(axis=0),
    }


def compare_statistics(generated: np.ndarray, reference: np.ndarray, n_freq: int = 16) -> dict[str, float]:
    """Discrepancies between two sets of curves on the same grid.

    ``mean_error``/``std_error``: max over points of the absolute difference, divided by the reference's
    overall std (scale-free); ``autocorrelation_error``: max absolute difference over lags;
    ``spectrum_log_error``: mean |log10| ratio of the power spectra over the first ``n_freq`` frequencies.
    """
    gen = functional_statistics(generated, n_freq=n_freq)
    ref = functional_statistics(reference, n_freq=n_freq)
    scale = float(np.asarray(reference).std())
    return {
        "mean_error": float(np.abs(gen["mean"] - ref["mean"]).max() / scale),
        "std_error": float(np.abs(gen["std"] - ref["std"]).max() / scale),
        "autocorrelation_error": float(np.abs(gen["autocorrelation"] - ref["autocorrelation"]).max()),
        "spectrum_log_error": float(
            np.abs(np.log10(np.maximum(gen["spectrum"], 1e-300) / np.maximum(ref["spectrum"], 1e-300))).mean()
        ),
    }


def plot_statistics(
    points: np.ndarray,
    generated: np.ndarray,
    reference: np.ndarray,
    path: str | Path,
    labels: tuple[str, str] = ("generated", "training"),
) -> Path:
    """A PNG of curves and the four statistics of ``generated`` against ``reference``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = [functional_statistics(generated), functional_statistics(reference)]
    fig, axes = plt.subplots(1, 5, figsize=(20, 3.6))
    for curve in reference[:30]:
        axes[0].plot(points, curve, color="tab:gray", lw=0.6, alpha=0.6)
    for curve in generated[:30]:
        axes[0].plot(points, curve, color="tab:blue", lw=0.6, alpha=0.6)
    axes[0].set_title("curves (gray: training)")
    for s, label, style in zip(stats, labels, ("-", "--"), strict=True):
        axes[1].plot(points, s["mean"], style, label=label)
        axes[2].plot(points, s["std"], style, label=label)
        axes[3].plot(s["autocorrelation"], style, label=label)
        axes[4].semilogy(s["spectrum"], style, label=label)
    for ax, title in zip(
        axes[1:], ("pointwise mean", "pointwise std", "autocorrelation", "power spectrum"), strict=True
    ):
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def statistics_json(generated: np.ndarray, reference: np.ndarray) -> Mapping[str, object]:
    """JSON-ready statistics of both sets and their comparison."""
    gen, ref = functional_statistics(generated), functional_statistics(reference)
    return {
        "comparison": compare_statistics(generated, reference),
        "generated": {k: v.tolist() for k, v in gen.items()},
        "training": {k: v.tolist() for k, v in ref.items()},
    }


__all__ = ["compare_statistics", "functional_statistics", "plot_statistics", "statistics_json"]
