"""∞-Brush end to end through the CLI on CPU: conditional training, guidance, resume, 512² sampling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from brush_runs import TINY_MODEL, read_level0, run_infd, write_config
from PIL import Image

from infd_core.checkpoints import load_checkpoint
from infd_infbrush.conditioning import PatchEncoder, save_encoder


def _sample_means(checkpoint: Path, out: Path, *overrides: str, num: int = 6) -> np.ndarray:
    sets = [a for o in overrides for a in ("--set", o)]
    run_infd("sample", str(checkpoint), "--num", str(num), "--out", str(out), *sets)
    return np.array([read_level0(out / f"sample-{i:03d}.ome.zarr").mean() / 255 for i in range(num)])


def test_conditional_samples_follow_the_requested_class(trained, tmp_path):
    """Class 0 = crops of the Hubble deep field (mean brightness 0.08), class 1 = the
    immunohistochemistry slide (0.63). Sample i of either class starts from the same noise, so each
    pair differs only in the condition: on average the bright class must come out much brighter, and
    brighter in all but at most one of the six pairs (a tiny model trained for seconds can miss one)."""
    checkpoint = trained / "out" / "checkpoint"
    dark = _sample_means(
        checkpoint, tmp_path / "dark", "config.sampling.classes=[0]", "config.sampling.guidance_scale=6"
    )
    bright = _sample_means(
        checkpoint, tmp_path / "bright", "config.sampling.classes=[1]", "config.sampling.guidance_scale=6"
    )
    difference = bright - dark
    assert np.sum(difference > 0) >= len(difference) - 1, (dark, bright)
    assert difference.mean() > 0.08, (dark, bright)
    # w = 0 is the unconditional model: the requested class then makes no difference at all (bit for
    # bit: only the null condition is evaluated, the same computation for both classes)
    a = _sample_means(
        checkpoint, tmp_path / "u0", "config.sampling.classes=[0]", "config.sampling.guidance_scale=0", num=2
    )
    b = _sample_means(
        checkpoint, tmp_path / "u1", "config.sampling.classes=[1]", "config.sampling.guidance_scale=0", num=2
    )
    np.testing.assert_array_equal(a, b)


def test_loss_log_and_safetensors_checkpoint(trained):
    records = [json.loads(line) for line in (trained / "out" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(10, 251, 10))
    assert np.mean([r["loss"] for r in records[-5:]]) < np.mean([r["loss"] for r in records[:3]])
    folder = trained / "out" / "checkpoint"
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "ema.safetensors", "model.safetensors", "optimizer.safetensors",
    ]  # fmt: skip


def test_resume_equals_uninterrupted(tmp_path):
    straight = write_config(tmp_path / "a.yaml", tmp_path / "a", steps=6)
    run_infd("train", str(straight))
    half = write_config(tmp_path / "b.yaml", tmp_path / "b", steps=3)
    run_infd("train", str(half))
    rest = write_config(tmp_path / "c.yaml", tmp_path / "c", steps=6)
    run_infd("train", str(rest), "--resume", str(tmp_path / "b" / "checkpoint"))
    a = load_checkpoint(str(tmp_path / "a" / "checkpoint"))
    c = load_checkpoint(str(tmp_path / "c" / "checkpoint"))
    assert c.meta["step"] == 6
    for name in ("model", "ema", "optimizer"):
        for key, value in a.state(name).items():
            torch.testing.assert_close(c.state(name)[key], value, rtol=0, atol=0)


def test_512_sample_in_bands_to_ome_zarr(tmp_path):
    """A 512² conditional sample (2 DDIM steps, guidance) through the tiled writer; the sparse level
    runs in bands of 64 rows (kernel 5 at 2× the 256² training resolution)."""
    config = write_config(
        tmp_path / "run.yaml", tmp_path / "out", steps=2,
        data={"resolution": 256, "subsampling": 64, "batch_size": 2},
        sampling={"steps": 2, "chunk_points": 32768, "chunk": 256, "guidance_scale": 2.0},
    )  # fmt: skip
    out = tmp_path / "big.ome.zarr"
    run_infd("run", str(config), "--set", "sample.size=[512, 512]", "--set", f"sample.out={out}")
    image = read_level0(out)
    assert image.shape == (3, 512, 512) and image.dtype == np.uint8 and image.std() > 1
    assert (tmp_path / "big.png").is_file()


def test_patch_conditioning_with_a_joint_and_a_supplied_encoder(tmp_path):
    """Reference-image patches as the condition: the default encoder trains with the model; a
    pre-trained encoder is loaded from local safetensors, stays frozen, and is stored in the checkpoint."""
    patches = {"kind": "patches", "patch_size": 4, "reference_resolution": 8, "encoder_width": 16}
    joint = write_config(
        tmp_path / "joint.yaml", tmp_path / "joint", steps=3, model={**TINY_MODEL, "condition": patches}
    )
    run_infd("train", str(joint))
    state = load_checkpoint(str(tmp_path / "joint" / "checkpoint")).state("model")
    assert state["condition.encoder.patchify.weight"].shape == (16, 3, 4, 4)

    torch.manual_seed(7)
    encoder = PatchEncoder(3, 4, 16)
    save_encoder(encoder, tmp_path / "encoder.safetensors")
    supplied = {**patches, "encoder": str(tmp_path / "encoder.safetensors")}
    config = write_config(
        tmp_path / "s.yaml", tmp_path / "s", steps=3, model={**TINY_MODEL, "condition": supplied}
    )
    run_infd("train", str(config))
    trained_state = load_checkpoint(str(tmp_path / "s" / "checkpoint")).state("model")
    for key, value in encoder.state_dict().items():
        torch.testing.assert_close(trained_state[f"condition.encoder.{key}"], value, rtol=0, atol=0)

    reference = (np.random.default_rng(0).random((24, 24, 3)) * 255).astype(np.uint8)
    Image.fromarray(reference).save(tmp_path / "reference.png")
    out = tmp_path / "ref.ome.zarr"
    run_infd(
        "sample", str(tmp_path / "s" / "checkpoint"), "--out", str(out),
        "--set", f"config.sampling.reference={tmp_path / 'reference.png'}",
        "--set", "config.sampling.steps=2",
    )  # fmt: skip
    assert read_level0(out).shape == (3, 16, 16)
