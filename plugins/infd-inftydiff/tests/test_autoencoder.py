"""The diffusion-autoencoder option (§5): encoder, latent DDPM, super-resolution from a small image."""

from __future__ import annotations

import numpy as np
import torch
from cli_runs import read_level0, run_infd, write_config
from PIL import Image

from infd_core.checkpoints import load_checkpoint
from infd_inftydiff.denoiser import InftyDiffDenoiser
from infd_inftydiff.model_config import DenoiserConfig
from infd_sparse import CoordinateBatch


def test_encoder_reads_any_subset_and_resolution():
    torch.manual_seed(0)
    model = InftyDiffDenoiser(DenoiserConfig(train_resolution=16, latent_dim=6)).eval()
    g = torch.Generator().manual_seed(1)
    for points in (CoordinateBatch.random(2, (16, 16), 4, g), CoordinateBatch.full(2, (48, 48))):
        z = model.encode(torch.randn(points.num_points, 3, generator=g), points)
        assert z.shape == (2, 6) and torch.isfinite(z).all()
        out = model(
            torch.randn(points.num_points, 3, generator=g), points, torch.rand(2, generator=g), latent=z
        )
        assert out.shape == (points.num_points, 3)


def test_train_sample_and_super_resolve(tmp_path):
    config = write_config(
        tmp_path / "run.yaml", tmp_path / "out", steps=6,
        model={"latent_dim": 8}, latent={"steps": 5, "hidden": 32, "depth": 2, "stats_batches": 2},
    )  # fmt: skip
    run_infd("run", str(config), "--set", "sample.num_samples=2", "--set", "sample.size=[24, 24]")
    ckpt = load_checkpoint(str(tmp_path / "out" / "checkpoint"))
    assert ckpt.meta["latent_step"] == 5 and "latent" in ckpt.tensors
    assert float(ckpt.state("latent")["std"].min()) > 0  # latent statistics were gathered
    for i in range(2):
        assert read_level0(tmp_path / "out" / "samples" / f"sample-{i:03d}.ome.zarr").shape == (3, 24, 24)
    small = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    Image.fromarray(small).save(tmp_path / "small.png")
    out = tmp_path / "big.ome.zarr"
    run_infd(
        "sample", str(tmp_path / "out" / "checkpoint"), "--size", "64", "--out", str(out),
        "--set", f"config.sampling.superres={{image: {tmp_path / 'small.png'}}}",
    )  # fmt: skip
    assert read_level0(out).shape == (3, 64, 64)


def test_super_resolution_needs_an_encoder(trained, tmp_path):
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "small.png")
    run_infd(
        "sample", str(trained / "out" / "checkpoint"), "--out", str(tmp_path / "o.ome.zarr"),
        "--set", f"config.sampling.superres={{image: {tmp_path / 'small.png'}}}",
        expect=2,
    )  # fmt: skip


def test_diffae_latent_ddpm_parts():
    """DiffAE's latent model (skip MLP), its constant-β schedule and L1 loss against closed forms."""
    from infd_core.seeding import derive_generator
    from infd_inftydiff.config import LatentConfig
    from infd_inftydiff.latent_model import LatentSkipMLP, build_latent_model, latent_loss, latent_schedule
    from infd_measures.discrete import DiscreteSchedule

    config = LatentConfig(
        architecture="skip", hidden=16, depth=3, schedule="constant", beta=0.008, num_steps=50
    )
    schedule = latent_schedule(config, DiscreteSchedule.cosine(10))
    steps = torch.arange(51)
    torch.testing.assert_close(schedule.alpha_bar(steps), (1 - 0.008) ** steps.double())
    torch.manual_seed(0)
    model = build_latent_model(6, config)
    assert isinstance(model, LatentSkipMLP) and [layer.in_features for layer in model.layers] == [6, 22, 22]
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.3)
    z, t = torch.randn(4, 6), torch.rand(4)
    with torch.no_grad():
        model.layers[0].weight.zero_()
        model.layers[0].bias.zero_()  # the first layer cut: z still reaches the output by the skips
        assert (model(z, t) - model(2 * z, t)).abs().max() > 1e-3
    loss = latent_loss(model, schedule, z, seed=3, step=7, loss="l1")
    g = derive_generator(3, "latent-noise", 7, device="cpu")  # the same draws, by hand
    k = torch.randint(1, 51, (4,), generator=g)
    eps = torch.randn(z.shape, generator=g)
    bar = ((1 - 0.008) ** k.double()).float()[:, None]
    expected = (model(bar.sqrt() * z + (1 - bar).sqrt() * eps, k.float() / 50) - eps).abs().mean()
    torch.testing.assert_close(loss, expected)
