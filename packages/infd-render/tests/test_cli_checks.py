"""``infd render`` checks its inputs before it creates a store; names the store and preview after OUT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import safetensors.torch
import torch
from render_helpers import features, tiny_clif

from infd_core.checkpoints import save_checkpoint
from infd_core.cli.main import run_cli

SMALL = {"feature_channels": 4, "hidden_channels": 8, "residual_blocks": 1, "gemm_chunk": 256}


def render(tmp_path: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    argv = ["render", "--size", "24x40", "--tile-size", "16", "--device", "cpu", *args]
    status = run_cli(argv)
    return status, capsys.readouterr().err


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def phi5(tmp_path: Path) -> Path:
    path = tmp_path / "phi.safetensors"
    safetensors.torch.save_file({"phi": features(5, 6, 7)[0]}, str(path))  # 5 channels
    return path


def test_feature_channels_that_do_not_fit_the_config(tmp_path, phi5, capsys):
    out = tmp_path / "x.ome.zarr"
    status, err = render(
        tmp_path, "--features", str(phi5), "--config", json.dumps(SMALL), "--out", str(out), capsys=capsys
    )
    assert status == 2
    assert "5 feature channels, but the clif renderer takes 4" in one_line(err)
    assert not out.exists() and not (tmp_path / "x.png").exists()


def test_checkpoint_weights_that_do_not_fit_its_config(tmp_path, capsys):
    wide = tiny_clif(channels=4, hidden=16)  # the checkpoint's config says hidden_channels 8
    ckpt = tmp_path / "ckpt"
    save_checkpoint(
        str(ckpt),
        {"renderer": {"name": "clif", "config": SMALL}},
        {"model": wide.state_dict(), "features": {"phi": features(4, 6, 7)[0]}},
    )
    out = tmp_path / "x.zarr"
    status, err = render(tmp_path, "--checkpoint", str(ckpt), "--out", str(out), capsys=capsys)
    assert status == 2 and "weights do not fit its renderer config" in one_line(err)
    assert "size mismatch" in err
    assert not out.exists()


def test_checkpoint_features_that_do_not_fit_its_config_or_are_missing(tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    narrow = tiny_clif(channels=4, hidden=8, residual_blocks=1)
    save_checkpoint(
        str(ckpt),
        {"renderer": {"name": "clif", "config": SMALL}},
        {"model": narrow.state_dict(), "features": {"phi": features(6, 6, 7)[0]}},
    )
    out = tmp_path / "x.zarr"
    status, err = render(tmp_path, "--checkpoint", str(ckpt), "--out", str(out), capsys=capsys)
    assert status == 2 and "6 feature channels, but the clif renderer takes 4" in one_line(err)
    status, err = render(
        tmp_path, "--checkpoint", str(ckpt), "--features-key", "psi", "--out", str(out), capsys=capsys
    )
    assert status == 2 and "no features 'psi' (has: phi)" in one_line(err)
    assert not out.exists()


def test_config_that_is_not_json_or_not_valid(tmp_path, phi5, capsys):
    out = tmp_path / "x.zarr"
    status, err = render(
        tmp_path, "--features", str(phi5), "--config", "{hidden: 8", "--out", str(out), capsys=capsys
    )
    assert status == 2 and "--config: not valid JSON" in one_line(err)
    bad = json.dumps({**SMALL, "hidden_channels": "wide"})
    status, err = render(tmp_path, "--features", str(phi5), "--config", bad, "--out", str(out), capsys=capsys)
    assert status == 2 and "hidden_channels" in one_line(err)
    assert not out.exists()


def test_store_and_preview_are_named_after_out(tmp_path, capsys):
    import zarr

    phi = tmp_path / "phi.safetensors"
    safetensors.torch.save_file({"phi": features(4, 6, 7)[0]}, str(phi))
    out = tmp_path / "sample-007.ome.zarr"
    status, err = render(
        tmp_path, "--features", str(phi), "--config", json.dumps(SMALL), "--out", str(out), capsys=capsys
    )
    assert status == 0, err
    assert (tmp_path / "sample-007.png").is_file() and not (tmp_path / "sample-007.ome.png").exists()
    attributes = dict(zarr.open_group(str(out), mode="r").attrs)
    assert attributes["ome"]["multiscales"][0]["name"] == "sample-007"


def _save(path: Path, tensor) -> Path:
    safetensors.torch.save_file({"phi": tensor}, str(path))
    return path


@pytest.mark.parametrize(
    ("make", "config", "message"),
    [
        (lambda p: p / "none.safetensors", SMALL, "not found"),
        (lambda p: Path("/dev/zero"), SMALL, "not a regular file"),
        (
            lambda p: _save(p / "c.safetensors", features(4, 6, 7)[0].to(torch.complex64)),
            SMALL,
            "complex values",
        ),
        (lambda p: _save(p / "e.safetensors", torch.zeros(4, 0, 7)), SMALL, "empty features"),
        (lambda p: _save(p / "n.safetensors", torch.full((4, 6, 7), float("nan"))), SMALL, "NaN or infinite"),
        (lambda p: _save(p / "r.safetensors", torch.zeros(4, 6)), SMALL, "must be (C, h, w)"),
        (lambda p: _save(p / "ok.safetensors", features(4, 6, 7)[0]), {**SMALL, "nope": 1}, "config.nope"),
        (
            lambda p: _save(p / "ok.safetensors", features(4, 6, 7)[0]),
            {**SMALL, "hidden_channels": "x"},
            "integer",
        ),
        (lambda p: _save(p / "ok.safetensors", features(4, 6, 7)[0]), [1, 2], "must be a JSON object"),
    ],
)
def test_feature_and_config_errors_are_one_line_usage_errors(tmp_path, capsys, make, config, message):
    """Files that are not features, features that are not real (C, h, w) finite maps, and configs that
    are not renderer configs: exit 2, one line, no store."""
    out = tmp_path / "x.ome.zarr"
    args = ["--features", str(make(tmp_path)), "--config", json.dumps(config), "--out", str(out)]
    status, err = render(tmp_path, *args, capsys=capsys)
    assert status == 2 and message in one_line(err)
    assert not out.exists()
