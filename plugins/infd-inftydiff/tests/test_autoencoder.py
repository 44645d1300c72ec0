"""The diffusion-autoencoder option (§5): encoder, latent DDPM, super-resolution from a small image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_runs import read_level0, run_infd, write_config
from PIL import Image

from infd_core.checkpoints import load_checkpoint
from infd_inftydiff.denoiser import InftyDiffDenoiser
from infd_inftydiff.grid_unet import ResBlock as GridResBlock
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


def test_the_encoder_is_the_denoisers_own_down_half():
    """Every encoder tensor (lift, sparse blocks, grid stem, down blocks, bottleneck) has the shape of
    the denoiser's own tensor of the same place, bar the latent projections the encoder has no use for;
    the grid up path and the heads are not part of it."""
    config = DenoiserConfig(train_resolution=16, latent_dim=6, sparse_blocks=2)
    model = InftyDiffDenoiser(config)
    own = {k: v.shape for k, v in model.state_dict().items() if ".latent." not in k}
    encoder = {
        "down." + key.removeprefix("blocks.") if key.startswith("blocks.") else key: value.shape
        for key, value in model.encoder.state_dict().items()
        if not key.startswith(("emb", "out"))  # its constant embedding (no diffusion time), its pooling head
    }
    assert encoder == {k: own.get(k) for k in encoder}
    grid_down = {k for k in own if k.startswith(("grid.stem", "grid.down", "grid.middle"))}
    assert {k for k in encoder if k.startswith("grid.")} == grid_down
    assert not any(k.startswith(("grid.up", "grid.head", "up.", "head")) for k in encoder)


def test_the_latent_scales_and_shifts_every_block_of_the_denoiser():
    """A gradient of the prediction reaches the latent projection of every sparse block and every grid
    ResBlock, and a missing latent is refused."""
    torch.manual_seed(0)
    model = InftyDiffDenoiser(DenoiserConfig(train_resolution=16, latent_dim=6))
    for module in model.modules():  # the zero-initialised output layers would hide the deeper blocks
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Conv1d)):
            torch.nn.init.normal_(module.weight, std=0.2)
    points = CoordinateBatch.random(2, (16, 16), 2, torch.Generator().manual_seed(1))
    values = torch.randn(points.num_points, 3)
    out = model(values, points, torch.rand(2), latent=torch.randn(2, 6))
    out.square().sum().backward()
    projections = {k: m for k, m in model.named_modules() if k.endswith(".latent") and "encoder" not in k}
    blocks = len(model.down) + len(model.up) + sum(isinstance(m, GridResBlock) for m in model.grid.modules())
    assert len(projections) == blocks
    for name, projection in projections.items():
        assert projection.weight.grad is not None and projection.weight.grad.abs().max() > 0, name
    with pytest.raises(ValueError, match="latent"):
        model(values, points, torch.rand(2))


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


def test_reconstructions_are_closer_to_their_own_input_than_to_the_others():
    """A tiny autoencoder trained with the pipeline's loss (600 steps of a batch holding each of four
    16² images of 2 × 2 colour blocks four times; EMA weights) encodes each image, then samples from the
    same noise with its latent (20 DDIM steps). Each reconstruction is less than half as far (mean
    absolute error on [−1, 1]) from its own image as from the nearest other image (measured on five
    image sets: 0.21 at worst), so the latent carries the image and another latent gives another image."""
    from infd_inftydiff.sampling import sample_images
    from infd_inftydiff.training import EMA, TrainingLoss, make_batch
    from infd_measures.diffusion import GaussianDiffusion
    from infd_measures.discrete import DiscreteSchedule
    from infd_measures.mollifier import GaussianMollifier

    torch.manual_seed(0)
    side = 16
    blocks = torch.rand(4, 3, 2, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1
    images = blocks.repeat_interleave(side // 2, 2).repeat_interleave(side // 2, 3)
    batch = images.repeat(4, 1, 1, 1)
    model = InftyDiffDenoiser(DenoiserConfig(train_resolution=side, latent_dim=8))
    schedule = DiscreteSchedule.cosine(1000)
    mollifier = GaussianMollifier(1.0, reference_resolution=side)
    diffusion = GaussianDiffusion(schedule, mollifier)
    loss, ema = TrainingLoss(model, amp=False), EMA(model, 0.99)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for step in range(600):
        optimizer.zero_grad()
        loss(batch, make_batch(batch, diffusion, 4.0, seed=0, step=step)).backward()
        optimizer.step()
        ema.update(model)
    model.load_state_dict(ema.state)
    model.eval()
    with torch.no_grad():
        latents = model.encode_grid(images)
        generators = [torch.Generator().manual_seed(7) for _ in range(4)]
        reconstructions = sample_images(
            model, schedule, mollifier, (side, side), generators, steps=20, wiener_epsilon=0.2, latent=latents
        )
    distance = (reconstructions[:, None] - images[None]).abs().mean((2, 3, 4))
    own = distance.diagonal()
    nearest_other = (distance + torch.eye(4) * 1e9).min(1).values
    assert (own < 0.5 * nearest_other).all(), distance
