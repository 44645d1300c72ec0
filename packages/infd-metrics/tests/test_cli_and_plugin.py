"""``infd metrics`` end to end (tiny local CLIP, random features, OME-Zarr) and the plugin's components."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from metrics_helpers import TINY_CLIP, load_folder, save_tiny_clip, write_images

from infd_core.cli.main import build_cli, run_cli
from infd_core.errors import ConfigError
from infd_core.plugins import InfdPluginManager
from infd_metrics import ClipConfig, fid_clip, load_clip, save_random_extractor


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("images")
    return write_images(root / "real", 10, seed=0), write_images(root / "fake", 8, seed=1, size=40)


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("clip")
    (root / "tiny.json").write_text(json.dumps(TINY_CLIP))
    return save_tiny_clip(root / "tiny.safetensors"), root / "tiny.json"


def _json_line(output: str) -> dict:
    return json.loads(output[output.index('{"metric"') :].splitlines()[0])


def _scipy_fid(a: torch.Tensor, b: torch.Tensor) -> float:
    import numpy as np
    from scipy import linalg

    a, b = a.double().numpy(), b.double().numpy()
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    diff = a.mean(0) - b.mean(0)
    return float(diff @ diff + np.trace(sa + sb - 2 * np.real(linalg.sqrtm(sa @ sb))))


def test_fid_clip_end_to_end_on_two_folders_through_the_cli(folders, clip_files, tmp_path: Path) -> None:
    real, fake = folders
    weights, config = clip_files
    args = ["metrics", "fid-clip", str(real), str(fake), "--clip-checkpoint", str(weights)]
    args += ["--clip-config", str(config), "--device", "cpu", "--json", "--cache", str(tmp_path / "cache")]
    result = CliRunner().invoke(build_cli(), args)
    assert result.exit_code == 0, result.output
    report = _json_line(result.output)
    assert report["metric"] == "fid_clip" and report["value"] > 0
    # the same number from the library, and from raw CLIP embeddings of the decoded images with scipy
    encoder = load_clip(ClipConfig(checkpoint=str(weights), model_config=TINY_CLIP), "cpu")
    assert fid_clip(str(real), str(fake), encoder) == pytest.approx(report["value"], rel=1e-9)
    with torch.no_grad():
        raw_real = encoder.encode_images(load_folder(real), normalize=False)
        raw_fake = encoder.encode_images(load_folder(fake), normalize=False)
    assert report["value"] == pytest.approx(_scipy_fid(raw_real, raw_fake), rel=1e-4)
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 2


def test_fid_and_pfid_commands_with_random_features_and_zarr(folders, tmp_path: Path) -> None:
    from infd_io import TiledWriter

    real, fake = folders
    extractor = tmp_path / "random.safetensors"
    save_random_extractor(str(extractor), seed=0, feature_dim=4)
    result = CliRunner().invoke(
        build_cli(),
        ["metrics", "fid", str(real), str(fake), "--random-features", str(extractor), "--device", "cpu"],
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"fid: \d+\.\d{4}$", result.output.strip())  # after the progress bars (stderr)

    store = str(tmp_path / "image.zarr")
    writer = TiledWriter(store, (3, 128, 128), "uint8", chunks=32, tile_size=64)
    generator = torch.Generator().manual_seed(0)
    for index in writer.tiles():
        writer.write_tile(index, torch.randint(0, 256, (3, 64, 64), generator=generator, dtype=torch.uint8))
    writer.finalize()
    args = ["metrics", "pfid", store, str(fake), "--patch-size", "16", "--crops-per-image", "12"]
    args += ["--random-features", str(extractor), "--device", "cpu", "--json"]
    result = CliRunner().invoke(build_cli(), args)
    assert result.exit_code == 0, result.output
    report = _json_line(result.output)
    assert report["metric"] == "pfid" and report["patch_size"] == 16 and report["value"] > 0


def test_cli_errors_are_one_line_with_usage_status(folders, tmp_path: Path, capsys) -> None:
    real, fake = folders
    status = run_cli(["metrics", "fid", str(real), str(fake), "--device", "cpu", "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and "infd: error:" in err and "--inception" in err
    status = run_cli(["metrics", "fid-clip", str(real), str(fake), "--clip-checkpoint", str(tmp_path / "x")])
    assert status == 2 and "never downloaded" in capsys.readouterr().err
    tiny = tmp_path / "one"
    write_images(tiny, 1, seed=5)
    extractor = tmp_path / "random.safetensors"
    save_random_extractor(str(extractor))
    status = run_cli(
        ["metrics", "fid", str(tiny), str(fake), "--random-features", str(extractor), "--no-progress"]
    )
    assert status == 2 and "at least 2 images" in capsys.readouterr().err


def test_plugin_registers_extractors_and_metrics_without_torch(folders, tmp_path: Path) -> None:
    registry = InfdPluginManager().registry()
    assert {"fid-inception", "open-clip", "random-features"} <= set(registry.names("models"))
    assert {"fid", "patch-fid"} <= set(registry.names("metrics"))
    code = (
        "import sys, infd_metrics, infd_metrics.plugin, infd_metrics.configs; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

    extractor = tmp_path / "random.safetensors"
    save_random_extractor(str(extractor), seed=2, feature_dim=4)
    config = {
        "extractor": {"name": "random-features", "config": {"checkpoint": str(extractor)}},
        "device": "cpu",
    }
    metric = registry.get("metrics", "patch-fid").build({**config, "patch_size": 16, "crops_per_image": 2})
    real, fake = folders
    assert metric(str(real), str(fake)) > 0
    with pytest.raises(ConfigError, match="never downloads"):
        registry.get("metrics", "fid").build({"device": "cpu"})
