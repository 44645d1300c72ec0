"""INFD end to end through the CLI on CPU: train, sample at two resolutions, scale consistency, resume."""

from __future__ import annotations

import json

import numpy as np
import torch
from helpers import read_level0, run_infd, write_config

from infd_core.checkpoints import load_checkpoint
from infd_render.scale import box_downsample_2x

# Largest mean absolute difference (in [0, 1] pixel units) between a 64² render box-downsampled 2× and
# the 32² render of the same sample. Two different samples differ by more than twice as much (checked below).
SCALE_TOLERANCE = 0.03


def test_run_trains_both_stages_and_writes_samples(trained):
    out = trained / "out"
    ckpt = load_checkpoint(str(out / "checkpoint"))
    assert ckpt.meta["autoencoder_step"] == 150 and ckpt.meta["latent_step"] == 150
    assert ckpt.meta["latent_scale"] > 0
    assert sorted(p.name for p in (out / "checkpoint").iterdir()) == [
        "autoencoder.safetensors", "config.json", "disc_optimizer.safetensors",
        "discriminator.safetensors", "latent.safetensors", "latent_ema.safetensors",
        "latent_optimizer.safetensors", "optimizer.safetensors",
    ]  # fmt: skip
    stages = [json.loads(line)["stage"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert stages.count("autoencoder") == 15 and stages.count("latent") == 15
    for i in range(2):
        image = read_level0(out / "samples" / f"sample-{i:03d}.ome.zarr")
        assert image.shape == (3, 32, 32) and image.dtype == np.uint8 and image.std() > 1
        assert (out / "samples" / f"sample-{i:03d}.png").is_file()


def test_two_resolutions_are_scale_consistent(trained, tmp_path):
    ckpt = str(trained / "out" / "checkpoint")
    run_infd("sample", ckpt, "--size", "64x64", "--out", str(tmp_path / "s64.zarr"))
    low = read_level0(trained / "out" / "samples" / "sample-000.ome.zarr").astype(np.float64) / 255
    high = read_level0(tmp_path / "s64.zarr").astype(np.float64) / 255
    assert high.shape == (3, 64, 64)
    error = np.abs(box_downsample_2x(high) - low).mean()
    other = read_level0(trained / "out" / "samples" / "sample-001.ome.zarr").astype(np.float64) / 255
    between_samples = np.abs(other - low).mean()
    print(f"scale consistency: mean |down(64²) − 32²| = {error:.4f}; between samples {between_samples:.4f}")
    assert error < SCALE_TOLERANCE, error
    assert between_samples > 2 * error, (between_samples, error)


def test_resume_equals_uninterrupted(tmp_path):
    straight = write_config(tmp_path / "a.yaml", tmp_path / "a", optim={"steps": 4}, latent={"steps": 4})
    run_infd("train", str(straight))
    for name, ae_steps, latent_steps in (("b", 2, 0), ("c", 4, 2)):
        half = write_config(
            tmp_path / f"{name}.yaml",
            tmp_path / name,
            optim={"steps": ae_steps},
            latent={"steps": latent_steps},
        )
        run_infd("train", str(half))
        rest = write_config(
            tmp_path / f"{name}2.yaml", tmp_path / f"{name}2", optim={"steps": 4}, latent={"steps": 4}
        )
        run_infd("train", str(rest), "--resume", str(tmp_path / name / "checkpoint"))
        a = load_checkpoint(str(tmp_path / "a" / "checkpoint"))
        c = load_checkpoint(str(tmp_path / f"{name}2" / "checkpoint"))
        assert c.meta["autoencoder_step"] == 4 and c.meta["latent_step"] == 4
        for part in ("autoencoder", "discriminator", "latent", "latent_ema", "optimizer", "latent_optimizer"):
            assert a.state(part).keys() == c.state(part).keys()
            for key, value in a.state(part).items():
                torch.testing.assert_close(c.state(part)[key], value, rtol=0, atol=0, msg=f"{part}.{key}")


def test_kl_regulariser_and_balanced_sampling_run_end_to_end(tmp_path):
    config = write_config(
        tmp_path / "kl.yaml", tmp_path / "kl",
        autoencoder={"regulariser": "kl"}, data={"balanced": 0.5}, optim={"steps": 3}, latent={"steps": 3},
    )  # fmt: skip
    run_infd("run", str(config), "--set", "sample.size=[40, 24]")
    image = read_level0(tmp_path / "kl" / "samples" / "sample-000.ome.zarr")
    assert image.shape == (3, 40, 24)
    assert (
        load_checkpoint(str(tmp_path / "kl" / "checkpoint"))
        .state("autoencoder")["quant_conv.weight"]
        .shape[0]
        == 6
    )


def test_trained_renderer_is_scale_consistent_on_a_photo(trained):
    """infd-render's ``scale_consistency`` on φ of an encoded photograph: render 64², box-downsample,
    compare with the 32² render."""
    from infd_infd.autoencoder import NeuralFieldAutoencoder
    from infd_infd.config import InfdConfig
    from infd_io.photos import load_photo
    from infd_render import scale_consistency

    ckpt = load_checkpoint(str(trained / "out" / "checkpoint"))
    config = InfdConfig.model_validate(ckpt.config["config"])
    model = NeuralFieldAutoencoder(config.autoencoder, config.renderer).eval()
    model.load_state_dict(ckpt.state("autoencoder"))
    with torch.no_grad():
        features = model.decode(model.encode(load_photo("chelsea")[None] * 2 - 1))[0]
    result = scale_consistency(model.renderer, features, (32, 32))
    print(f"scale consistency on a photo: mean |Δ| {result.mean_abs:.4f} (of 2), PSNR {result.psnr:.1f} dB")
    assert result.mean_abs < 2 * SCALE_TOLERANCE  # values span [−1, 1]: twice the [0, 1] tolerance


def test_plugin_is_registered():
    from infd_core.plugins import InfdPluginManager

    spec = InfdPluginManager().registry().get("pipelines", "infd")
    assert spec.distribution == "infd-infd" and spec.factory == "infd_infd.pipeline:InfdPipeline"
