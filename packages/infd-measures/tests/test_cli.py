"""``infd measures plot`` through click's test runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from infd_measures.cli import measures_group

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0 and path.read_bytes()[:8] == PNG_SIGNATURE


@pytest.mark.parametrize(
    "args",
    [
        ["--schedule", "linear-soft", "--basis", "fft", "--size", "8", "--components", "0,5,10"],
        ["--schedule", "linear-soft", "--basis", "pca", "--size", "8", "--prior", "data", "--samples", "64"],
        ["--schedule", "columnwise", "--basis", "pixel", "--size", "8", "--b", "0.4", "--samples", "16"],
        ["--schedule", "haar-columnwise", "--basis", "haar", "--size", "8", "--levels", "2"],
    ],
)
def test_plot_writes_a_png(tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "figs" / "schedule.png"
    result = CliRunner().invoke(measures_group, ["plot", *args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert _is_png(out)


def test_plot_from_a_data_file(tmp_path: Path) -> None:
    data = tmp_path / "data.npy"
    np.save(data, np.random.default_rng(0).normal(size=(20, 2, 4, 4)))
    out = tmp_path / "fig.png"
    args = ["plot", "--data", str(data), "--basis", "fft", "--prior", "data", "--out", str(out)]
    result = CliRunner().invoke(measures_group, args)
    assert result.exit_code == 0, result.output
    assert _is_png(out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--components", "a,b"], "comma-separated"),
        (["--components", "0,500"], "components must be < 64"),
        (["--softness", "0"], "softness"),
        (["--schedule", "columnwise", "--basis", "fft"], "no columns"),
        (["--schedule", "haar-columnwise", "--basis", "pixel"], "needs a Haar basis"),
        (["--basis", "haar", "--levels", "4"], "divisible by 16"),
        (["--schedule", "spiral"], "Invalid value"),
        ([], None),  # --out missing
    ],
)
def test_bad_arguments_exit_with_status_2(tmp_path: Path, args: list[str], message: str | None) -> None:
    out = [] if not args else ["--out", str(tmp_path / "x.png")]
    result = CliRunner().invoke(measures_group, ["plot", "--size", "8", "--samples", "8", *args, *out])
    assert result.exit_code == 2, result.output
    if message:
        assert message in result.output
    assert not (tmp_path / "x.png").exists()
