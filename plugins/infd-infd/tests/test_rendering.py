"""Any-resolution output: tiles stream into OME-Zarr (bounded memory), exactly equal to a whole render;
pFID of the written samples through infd-metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import read_level0, run_infd

from infd_core.errors import InfdError
from infd_infd.config import InfdConfig
from infd_infd.rendering import render_to_zarr
from infd_render import CLIFRenderer, TiledRenderer, render_whole
from infd_render.tiled import to_dtype


def test_tiles_equal_the_whole_image_and_stay_small(tmp_path, monkeypatch):
    config = InfdConfig()
    torch.manual_seed(0)
    renderer = CLIFRenderer(config.renderer).eval()
    features = torch.randn(8, 8, 8)
    windows = []
    original = TiledRenderer.render_tiles

    def spy(self, features, size, tiles):
        windows.extend((t[0][1] - t[0][0], t[1][1] - t[1][0]) for t in tiles)
        return original(self, features, size, tiles)

    monkeypatch.setattr(TiledRenderer, "render_tiles", spy)
    url = tmp_path / "out.zarr"
    render_to_zarr(renderer, features, (96, 128), str(url), tile_size=32, chunk=16)
    assert len(windows) == 12 and max(max(w) for w in windows) <= 32  # 3 × 4 tiles of at most 32²
    whole = to_dtype(render_whole(renderer, features, (96, 128)), np.uint8)
    np.testing.assert_array_equal(read_level0(url), whole)  # bit-exact across tile borders
    assert (tmp_path / "out.png").is_file()


def test_gigapixel_sample_streams_tile_by_tile(trained, tmp_path, monkeypatch):
    """``infd sample --size 32768x32768``: the store is created first, then tiles are rendered one by one
    (stopped here after three tiles); nothing of image size is ever allocated."""
    rendered = []

    def stop_after_three(self, features, size, tiles):
        assert size == (32768, 32768) and features.shape[-1] == 32  # φ stays at the decoder's size
        assert len(tiles) == 1
        rendered.extend(tiles)
        if len(rendered) == 3:
            raise InfdError("stopped by the test")
        return [torch.zeros(3, t[0][1] - t[0][0], t[1][1] - t[1][0]) for t in tiles]

    monkeypatch.setattr(TiledRenderer, "render_tiles", stop_after_three)
    out = tmp_path / "big.zarr"
    run_infd(
        "sample", str(trained / "out" / "checkpoint"), "--size", "32768x32768", "--out", str(out),
        "--set", "config.sampling.tile_size=2048", "--set", "config.sampling.chunk=256", expect=1,
    )  # fmt: skip
    assert len(rendered) == 3 and all((y1 - y0, x1 - x0) == (2048, 2048) for (y0, y1), (x0, x1) in rendered)
    import zarr

    group = zarr.open_group(str(out), mode="r")
    assert group[group.attrs["ome"]["multiscales"][0]["datasets"][0]["path"]].shape == (3, 32768, 32768)


@pytest.mark.parametrize("size", ["0x32", "32x32x32"])
def test_bad_sizes(trained, tmp_path, size):
    run_infd(
        "sample",
        str(trained / "out" / "checkpoint"),
        "--size",
        size,
        "--out",
        str(tmp_path / "o.zarr"),
        expect=2,
    )


def test_several_samples_into_one_store(trained, tmp_path):
    run_infd(
        "sample",
        str(trained / "out" / "checkpoint"),
        "--num",
        "2",
        "--out",
        str(tmp_path / "o.zarr"),
        expect=2,
    )


def test_patch_fid_of_samples(trained, tmp_path):
    from infd_metrics import save_random_extractor

    save_random_extractor(str(tmp_path / "features.safetensors"))
    extractor = {"name": "random-features", "config": {"checkpoint": str(tmp_path / "features.safetensors")}}
    run_infd(
        "sample", str(trained / "out" / "checkpoint"), "--size", "64", "--num", "4",
        "--out", str(tmp_path / "s"), "--set", "config.evaluate.enabled=true",
        "--set", f"config.evaluate.extractor={json.dumps(extractor)}", "--set", "config.evaluate.num_real=8",
    )  # fmt: skip
    record = json.loads((tmp_path / "s" / "pfid.json").read_text())
    assert record["metric"] == "pFID-32" and record["samples"] == 4
    assert np.isfinite(record["value"]) and record["value"] > 0


def test_bfloat16_rendering_is_exact_and_leaves_the_model_alone(tmp_path):
    config = InfdConfig()
    torch.manual_seed(0)
    renderer = CLIFRenderer(config.renderer).eval()
    features = torch.randn(8, 8, 8)
    url = tmp_path / "out.zarr"
    render_to_zarr(renderer, features, (48, 64), str(url), tile_size=16, chunk=16, precision="bfloat16")
    assert next(renderer.parameters()).dtype == torch.float32
    cast = CLIFRenderer(config.renderer).eval()
    cast.load_state_dict(renderer.state_dict())
    whole = to_dtype(render_whole(cast.to(torch.bfloat16), features, (48, 64)), np.uint8)
    np.testing.assert_array_equal(read_level0(url), whole)
    float32 = to_dtype(render_whole(renderer, features, (48, 64)), np.uint8)
    assert not np.array_equal(whole, float32)
