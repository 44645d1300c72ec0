"""§5.5 layouts: CLIP guidance raises each box's similarity; bad layouts and missing CLIP are clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from helpers import TINY_CLIP, read_level0, run_infd, save_tiny_clip

from infd_core.errors import ConfigError, UsageError
from infd_infd.config import ClipModelConfig, LayoutBox
from infd_infd.layout import ImageTextEncoder, check_layout, load_clip_encoder, load_layout
from infd_infd.rendering import box_grid
from infd_render import cell_grid, coordinate_grid

# Two boxes at different scales of a 64² canvas (a large one and a small one, not overlapping).
LAYOUT = [
    {"box": [0, 0, 40, 40], "prompt": "a red cloud"},
    {"box": [44, 44, 60, 60], "prompt": "a mountain at night"},
]
# Each box's CLIP similarity must rise by at least this much over unguided sampling with the same seed.
MIN_GAIN = 0.01


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("clip")
    (folder / "arch.json").write_text(json.dumps(TINY_CLIP))
    save_tiny_clip(folder / "clip.safetensors")
    return {"checkpoint": str(folder / "clip.safetensors"), "architecture": str(folder / "arch.json")}


def _layout_run(trained, out, clip, scale: float, boxes=None, *extra: str, expect: int = 0) -> None:
    layout = {"boxes": LAYOUT if boxes is None else boxes, "clip": clip, "guidance_scale": scale}
    run_infd(
        "sample", str(trained / "out" / "checkpoint"), "--size", "64", "--num", "2", "--out", str(out),
        "--set", f"config.sampling.layout={json.dumps(layout)}", "--set", "config.sampling.steps=20",
        *extra, expect=expect,
    )  # fmt: skip


def _similarities(folder) -> np.ndarray:
    records = [json.loads((folder / f"sample-{i:03d}.layout.json").read_text()) for i in range(2)]
    return np.array([[b["clip_similarity"] for b in r["boxes"]] for r in records])


def test_guidance_raises_every_box_similarity(trained, tmp_path, clip):
    _layout_run(trained, tmp_path / "unguided", clip, 0.0)
    _layout_run(trained, tmp_path / "guided", clip, 300.0)
    before, after = _similarities(tmp_path / "unguided"), _similarities(tmp_path / "guided")
    # precondition: the fixture's latent model is not collapsed (its two samples differ), otherwise
    # x̂₀ hardly depends on z_t and no DPS gradient can reach the image
    first, second = (read_level0(tmp_path / "unguided" / f"sample-{i:03d}.ome.zarr") for i in range(2))
    assert np.abs(first.astype(float) - second.astype(float)).mean() > 2.0, "collapsed fixture model"
    print(f"CLIP similarity per sample and box: unguided {before.round(4).tolist()}")
    print(f"CLIP similarity per sample and box: guided {after.round(4).tolist()}")
    assert (after - before >= MIN_GAIN).all(), (before, after)
    # scale 0 is plain sampling: the same image as `infd sample` with the same seed
    run_infd(
        "sample", str(trained / "out" / "checkpoint"), "--size", "64", "--num", "2",
        "--out", str(tmp_path / "plain"), "--set", "config.sampling.steps=20",
    )  # fmt: skip
    plain = read_level0(tmp_path / "plain" / "sample-001.ome.zarr")
    np.testing.assert_array_equal(read_level0(tmp_path / "unguided" / "sample-001.ome.zarr"), plain)
    assert not np.array_equal(read_level0(tmp_path / "guided" / "sample-001.ome.zarr"), plain)


def test_layout_command_and_files(trained, tmp_path, clip):
    (tmp_path / "layout.toml").write_text(
        '[[boxes]]\nbox = [0, 0, 40, 40]\nprompt = "a red cloud"\n'
        '[[boxes]]\nbox = [44, 44, 60, 60]\nprompt = "a mountain at night"\n'
    )
    run_infd(
        "layout", str(trained / "out" / "checkpoint"), str(tmp_path / "layout.toml"),
        "--clip", clip["checkpoint"], "--clip-architecture", clip["architecture"], "--scale", "300",
        "--size", "64", "--num", "2", "--out", str(tmp_path / "cli"), "--set", "config.sampling.steps=20",
    )  # fmt: skip
    (tmp_path / "layout.yaml").write_text(yaml.safe_dump(LAYOUT))
    (tmp_path / "layout.json").write_text(json.dumps({"boxes": LAYOUT}))
    expected = [LayoutBox.model_validate(b) for b in LAYOUT]
    for name in ("layout.toml", "layout.yaml", "layout.json"):
        assert load_layout(str(tmp_path / name)) == expected
    _layout_run(trained, tmp_path / "guided", clip, 300.0)
    np.testing.assert_allclose(_similarities(tmp_path / "cli"), _similarities(tmp_path / "guided"), atol=1e-6)


def test_boxes_outside_the_canvas(trained, tmp_path, clip):
    outside = [{"box": [0, 0, 40, 40], "prompt": "a red cloud"}, {"box": [50, 50, 70, 60], "prompt": "sky"}]
    _layout_run(trained, tmp_path / "o", clip, 1.0, outside, expect=2)
    assert not (tmp_path / "o").exists()  # refused before any work
    with pytest.raises(UsageError, match=r"layout box 1 \('sky'\) \[50\.0, 50\.0, 70\.0, 60\.0\] is outside"):
        check_layout([LayoutBox.model_validate(b) for b in outside], (64, 64))
    _layout_run(trained, tmp_path / "n", clip, 1.0, [{"box": [10, 10, 5, 20], "prompt": "sky"}], expect=2)


def test_empty_prompts(trained, tmp_path, clip):
    _layout_run(trained, tmp_path / "e", clip, 1.0, [], expect=2)
    _layout_run(trained, tmp_path / "s", clip, 1.0, [{"box": [0, 0, 8, 8], "prompt": " "}], expect=2)
    (tmp_path / "empty.yaml").write_text("boxes: []\n")
    with pytest.raises(ConfigError, match="non-empty list"):
        load_layout(str(tmp_path / "empty.yaml"))
    (tmp_path / "blank.yaml").write_text(yaml.safe_dump([{"box": [0, 0, 8, 8], "prompt": ""}]))
    with pytest.raises(ConfigError, match=r"boxes\[0\]\.prompt: a box needs a non-empty prompt"):
        load_layout(str(tmp_path / "blank.yaml"))
    with pytest.raises(ConfigError, match="not found"):
        load_layout(str(tmp_path / "missing.yaml"))


def test_missing_clip_checkpoint(trained, tmp_path, clip):
    missing = {**clip, "checkpoint": str(tmp_path / "nowhere.safetensors")}
    _layout_run(trained, tmp_path / "m", missing, 1.0, expect=2)
    assert not (tmp_path / "m").exists()
    with pytest.raises(UsageError, match=r"CLIP checkpoint .*nowhere\.safetensors does not exist"):
        load_clip_encoder(ClipModelConfig(checkpoint=missing["checkpoint"]), torch.device("cpu"))


def test_open_clip_encoder_fits_the_protocol(clip):
    encoder = load_clip_encoder(ClipModelConfig(**clip), torch.device("cpu"))
    assert isinstance(encoder, ImageTextEncoder) and encoder.image_size == 32
    images = torch.rand(2, 3, 32, 32, requires_grad=True)
    features = encoder.encode_images(images)
    torch.testing.assert_close(features.norm(dim=-1), torch.ones(2))
    (features @ encoder.encode_texts(["a red cloud"]).T).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0  # differentiable for guidance


def test_box_grid_of_the_whole_canvas_is_the_pixel_grid():
    coords, cells = box_grid([0, 0, 48, 32], (32, 48), 32)  # x1 = width 48, y1 = height 32
    assert coords.shape == (32, 32, 2)
    torch.testing.assert_close(coords[:, 0, 0], coordinate_grid((32, 48))[:, 0, 0])
    torch.testing.assert_close(cells[0, 0], cell_grid((32, 48))[0, 0] * torch.tensor([1.0, 1.5]))
    coords, cells = box_grid([8, 0, 24, 16], (32, 32), 16)  # a 16² box at 1:1 is a region of the canvas
    torch.testing.assert_close(coords, coordinate_grid(32, ((0, 16), (8, 24))))
    torch.testing.assert_close(cells, cell_grid(32, ((0, 16), (8, 24))))
