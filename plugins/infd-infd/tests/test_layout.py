"""§5.5 layouts: CLIP guidance raises each box's similarity; bad layouts and missing CLIP are clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from helpers import TINY_CLIP, read_level0, run_infd, save_tiny_clip

from infd_core.errors import ConfigError, UsageError
from infd_core.seeding import derive_generator
from infd_infd.autoencoder import NeuralFieldAutoencoder
from infd_infd.config import ClipModelConfig, InfdConfig, LayoutBox
from infd_infd.layout import ImageTextEncoder, LayoutLoss, check_layout, load_clip_encoder, load_layout
from infd_infd.rendering import box_grid
from infd_infd.sampling import sample_latents
from infd_infd.training import linear_schedule
from infd_measures import DiscreteSchedule
from infd_render import cell_grid, coordinate_grid
from infd_samplers import posterior_sampling

# Two boxes at different scales of a 64² canvas (a large one and a small one, not overlapping).
LAYOUT = [
    {"box": [0, 0, 40, 40], "prompt": "a red cloud"},
    {"box": [44, 44, 60, 60], "prompt": "a mountain at night"},
]
# Each box's CLIP similarity must rise by at least this much over unguided sampling with the same seed:
# at least 1000x their float noise, which the test measures (0 to 3e-7 on the emulated CPU paths tried).
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


class GaussianLatentPrior(torch.nn.Module):
    """The exact ε-denoiser of N(0, I) latents, ε̂(z_t, t) = σ_t z_t (no training, smooth in z)."""

    def __init__(self, schedule: DiscreteSchedule) -> None:
        super().__init__()
        self.schedule = schedule
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # sample_latents reads the device from it

    def forward(self, z_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        sigma = torch.as_tensor(self.schedule.sigma(t), dtype=z_t.dtype).reshape(-1, 1, 1, 1)
        return sigma * z_t


def test_guidance_raises_every_box_similarity(clip):
    """The pipeline's guidance (DPS on :class:`LayoutLoss`, through ``sample_latents``) raises each box's
    similarity in every sample by far more than float noise, and beyond the spread between samples.

    The latent prior is N(0, I) with its exact denoiser and the autoencoder a seeded random KL one, so a
    box's similarity is a smooth function of z. The trained fixture is no basis for a margin: its VQ
    decode is piecewise constant in z and its weights depend on the CPU's rounding during training
    (measured per-box gains from -0.014 to +0.05 over fixture seeds and emulated CPU paths).
    """
    config = InfdConfig.model_validate({"autoencoder": {"regulariser": "kl"}})
    with torch.random.fork_rng():
        torch.manual_seed(0)
        autoencoder = NeuralFieldAutoencoder(config.autoencoder, config.renderer).eval().requires_grad_(False)
    encoder = load_clip_encoder(ClipModelConfig(**clip), torch.device("cpu"))
    loss = LayoutLoss(autoencoder, encoder, [LayoutBox.model_validate(b) for b in LAYOUT], (64, 64), 1.0)
    schedule = linear_schedule(config)
    size = config.autoencoder.latent_size
    shape = (config.autoencoder.latent_channels, size, size)

    def similarities(scale: float, indices: range) -> torch.Tensor:
        generators = [derive_generator(3, "sample", i) for i in indices]
        guidance = posterior_sampling(loss, scale, normalise=False) if scale else None
        z = sample_latents(GaussianLatentPrior(schedule), schedule, shape, generators, steps=20, eta=0.0,
                           guidance=guidance)  # fmt: skip
        with torch.no_grad():
            return loss.similarities(z).double()

    before, after = similarities(0.0, range(4)), similarities(30.0, range(4))
    # float noise: the same samples guided in batches of 2 (batch-size-dependent float reductions)
    regrouped = torch.cat([similarities(30.0, range(2)), similarities(30.0, range(2, 4))])
    noise = float((regrouped - after).abs().max())
    print(f"CLIP similarity per sample and box: unguided {before.numpy().round(4).tolist()}")
    print(f"CLIP similarity per sample and box: guided {after.numpy().round(4).tolist()}, noise {noise:.1e}")
    assert noise <= MIN_GAIN / 1000, noise
    assert bool((after - before >= MIN_GAIN).all()), (before, after)
    # beyond the spread between samples: every guided sample scores higher than every unguided one
    assert bool((after.min(0).values > before.max(0).values).all()), (before, after)


def test_the_pipeline_samples_with_guidance_and_scale_0_is_plain_sampling(trained, tmp_path, clip):
    _layout_run(trained, tmp_path / "unguided", clip, 0.0)
    _layout_run(trained, tmp_path / "guided", clip, 300.0)
    before, after = _similarities(tmp_path / "unguided"), _similarities(tmp_path / "guided")
    assert before.shape == after.shape == (2, 2) and bool(np.all(np.abs(after) <= 1))
    run_infd(
        "sample", str(trained / "out" / "checkpoint"), "--size", "64", "--num", "2",
        "--out", str(tmp_path / "plain"), "--set", "config.sampling.steps=20",
    )  # fmt: skip
    plain = read_level0(tmp_path / "plain" / "sample-001.ome.zarr")
    # bit-equal by construction: scale 0 adds 0·∇ = 0 to the same DDIM steps on the same batch
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
