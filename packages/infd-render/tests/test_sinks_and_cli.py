"""Rendering into infd-io's zarr writer, the scale-consistency helper, the plugin and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import safetensors.torch
from click.testing import CliRunner
from render_helpers import features, tiny_clif

from infd_core.cli.main import build_cli
from infd_core.plugins import InfdPluginManager
from infd_render import TiledRenderer, ZarrSink, render_whole, scale_consistency
from infd_render.scale import box_downsample_2x
from infd_render.tiled import to_dtype


def test_zarr_sink_equals_whole_render(tmp_path):
    import zarr

    renderer, feats, size = tiny_clif(), features(), (24, 40)
    sink = ZarrSink.create(str(tmp_path / "out.zarr"), size, 3, "uint8", tile_size=16, chunks=16)
    TiledRenderer(renderer, 16).render_to_sink(sink, feats, size)
    assert sink.finalize()
    stored = np.asarray(zarr.open_group(str(tmp_path / "out.zarr"), mode="r")["0"][:])
    # bit-exact by construction: fixed-shape products and an exact SiLU (infd_render.layers)
    assert np.array_equal(stored, to_dtype(render_whole(renderer, feats, size), np.uint8))


def test_scale_consistency_matches_manual_computation():
    renderer, feats = tiny_clif(), features()
    report = scale_consistency(renderer, feats, (12, 10), tile_size=8)
    fine = render_whole(renderer, feats, (24, 20)).double().numpy()
    coarse = render_whole(renderer, feats, (12, 10)).double().numpy()
    manual = fine.reshape(3, 12, 2, 10, 2).mean(axis=(2, 4)) - coarse
    assert np.isclose(report.mean_abs, np.abs(manual).mean())
    assert np.isclose(report.max_abs, np.abs(manual).max())
    assert np.array_equal(box_downsample_2x(np.arange(16.0).reshape(1, 4, 4)), [[[2.5, 4.5], [10.5, 12.5]]])


def test_plugin_registers_renderers_without_torch():
    registry = InfdPluginManager().registry()
    assert {"clif", "liif"} <= set(registry.names("renderers"))
    code = "import sys, infd_render.plugin, infd_render.configs; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_renders_safetensors_features(tmp_path):
    feats = features(4, 5, 6)[0]
    safetensors.torch.save_file({"phi": feats}, str(tmp_path / "phi.safetensors"))
    config = '{"feature_channels": 4, "hidden_channels": 8, "residual_blocks": 1, "gemm_chunk": 256}'
    args = ["render", "--features", str(tmp_path / "phi.safetensors"), "--size", "40x24", "--config", config]
    args += ["--out", str(tmp_path / "out.zarr"), "--tile-size", "16", "--device", "cpu"]
    result = CliRunner().invoke(build_cli(), args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.png").exists()


def test_cli_renders_in_bfloat16_exactly(tmp_path):
    import torch
    import zarr

    from infd_render import CLIFConfig, CLIFRenderer

    feats = features(4, 5, 6)[0]
    safetensors.torch.save_file({"phi": feats}, str(tmp_path / "phi.safetensors"))
    config = {"feature_channels": 4, "hidden_channels": 8, "residual_blocks": 1, "gemm_chunk": 256}
    args = ["render", "--features", str(tmp_path / "phi.safetensors"), "--size", "40x24"]
    args += ["--config", json.dumps(config), "--out", str(tmp_path / "out.zarr"), "--tile-size", "16"]
    result = CliRunner().invoke(build_cli(), [*args, "--device", "cpu", "--precision", "bfloat16"])
    assert result.exit_code == 0, result.output
    torch.manual_seed(0)  # the CLI's --seed default: the same random weights
    renderer = CLIFRenderer(CLIFConfig(**config)).to(torch.bfloat16).eval()
    expected = to_dtype(render_whole(renderer, feats, (40, 24)), np.uint8)
    stored = np.asarray(zarr.open_group(str(tmp_path / "out.zarr"), mode="r")["0"][:])
    assert np.array_equal(stored, expected)
    torch.manual_seed(0)
    float32 = to_dtype(render_whole(CLIFRenderer(CLIFConfig(**config)), feats, (40, 24)), np.uint8)
    assert not np.array_equal(stored, float32)  # the option reached the network
