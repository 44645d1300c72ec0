"""The neural-field autoencoder: shapes, VQ/KL, losses, perceptual weights from local files, learning."""

from __future__ import annotations

import logging

import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import save_file

from infd_core.errors import ConfigError
from infd_infd.autoencoder import NeuralFieldAutoencoder
from infd_infd.config import DiscriminatorConfig, InfdConfig, PerceptualConfig
from infd_infd.data import PatchBatches
from infd_infd.losses import adaptive_weight, build_discriminator
from infd_infd.perceptual import build_perceptual, small_features
from infd_infd.regularisers import VectorQuantiser
from infd_infd.rendering import conv_impl
from infd_infd.training import AutoencoderTrainer
from infd_render import cell_grid, coordinate_grid

# Held-out reconstruction L1 after 120 steps must be at most 1/RECON_FACTOR of the untrained model's.
RECON_FACTOR = 2.0


def _grid(size: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    return coordinate_grid(size)[None].expand(batch, -1, -1, -1), cell_grid(size)[None].expand(
        batch, -1, -1, -1
    )


@pytest.mark.parametrize("regulariser", ["vq", "kl"])
def test_shapes_and_any_resolution(regulariser):
    config = InfdConfig.model_validate({"autoencoder": {"regulariser": regulariser}})
    torch.manual_seed(0)
    model = NeuralFieldAutoencoder(config.autoencoder, config.renderer)
    images = torch.rand(2, 3, 48, 40) * 2 - 1  # any input size: resampled to encoder_size
    z = model.encode(images)
    assert z.shape == (2, 3, 8, 8)  # 32 / downsampling 4
    features = model.decode(z)
    assert features.shape == (2, 8, 32, 32)
    for size in (16, 32, 80):
        assert model.render(features, *_grid(size, 2)).shape == (2, 3, size, size)
    out, loss = model(images, *_grid(24, 2), torch.Generator().manual_seed(0))
    assert out.shape == (2, 3, 24, 24) and loss.ndim == 0 and torch.isfinite(loss)


def test_vector_quantiser_matches_a_direct_computation():
    vq = VectorQuantiser(5, 3, beta=0.25)
    with torch.no_grad():
        vq.codebook.weight.copy_(torch.arange(15.0).reshape(5, 3) / 10)
    vq.initialised.fill_(True)
    z = (torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0)) * 1.5).requires_grad_(True)
    quantised, loss = vq(z)
    flat = z.detach().permute(0, 2, 3, 1).reshape(-1, 3)
    nearest = torch.cdist(flat, vq.codebook.weight.detach()).argmin(1)
    expected = vq.codebook.weight.detach()[nearest].reshape(2, 4, 4, 3).permute(0, 3, 1, 2)
    torch.testing.assert_close(quantised, expected)
    mse = (expected - z.detach()).pow(2).mean()
    torch.testing.assert_close(loss, 1.25 * mse)  # codebook term + β · commitment term
    quantised.sum().backward()
    torch.testing.assert_close(z.grad, torch.ones_like(z))  # straight-through


def test_codebook_is_initialised_from_the_first_batch():
    vq = VectorQuantiser(4, 3).train()
    z = torch.randn(1, 3, 2, 2)
    vq(z, torch.Generator().manual_seed(0))
    rows = z.permute(0, 2, 3, 1).reshape(-1, 3)
    assert all(any(torch.equal(code, row) for row in rows) for code in vq.codebook.weight.detach())
    assert bool(vq.initialised) and "initialised" in vq.state_dict()


def test_reconstruction_loss_decreases():
    config = InfdConfig.model_validate(
        {
            "loss": {"disc_weight": 0},
            "optim": {"steps": 120, "lr": 3e-3},
            "data": {"builtin_resolutions": [32], "num_items": 8, "max_size": 32},
        }
    )
    torch.manual_seed(0)
    model = NeuralFieldAutoencoder(config.autoencoder, config.renderer)
    trainer = AutoencoderTrainer(model, build_discriminator(config.loss.discriminator), None, config)
    data = PatchBatches(config.data, config.autoencoder.encoder_size, seed=0)
    held_out = [data(-1 - i) for i in range(4)]  # stream items never used for training

    def reconstruction() -> float:
        model.eval()
        with torch.no_grad(), conv_impl(model.renderer, "native"):
            errors = [(model(b.encoder_input, b.coords, b.cells)[0] - b.patch).abs().mean() for b in held_out]
        model.train()
        return float(torch.stack(errors).mean())

    before = reconstruction()
    for step in range(config.optim.steps):
        with conv_impl(model.renderer, "native"):
            trainer.step(data(step), 0, step)
    after = reconstruction()
    print(f"held-out L1: {before:.4f} → {after:.4f} (÷{before / after:.2f})")
    assert after * RECON_FACTOR < before, (before, after)


def test_no_perceptual_weights_turns_the_term_off_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        assert build_perceptual(PerceptualConfig()) is None
    assert any("perceptual loss is off" in r.message and r.levelno == logging.WARNING for r in caplog.records)


def _save_small_perceptual(path, channels=(4, 8)) -> str:
    torch.manual_seed(1)
    features, _ = small_features(list(channels))
    tensors = {f"features.{k}": v for k, v in features.state_dict().items()}
    tensors |= {f"lin.{i}.weight": torch.rand(1, c, 1, 1) for i, c in enumerate(channels)}
    save_file(tensors, str(path))
    return str(path)


def test_perceptual_loss_from_locally_made_weights(tmp_path):
    weights = _save_small_perceptual(tmp_path / "small.safetensors")
    loss = build_perceptual(PerceptualConfig(weights=weights, arch="small", channels=[4, 8]))
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 16, 16, generator=g) * 2 - 1, torch.rand(2, 3, 16, 16, generator=g) * 2 - 1
    distance = loss(a, b)
    assert distance.shape == (2,) and bool((distance > 0).all())
    torch.testing.assert_close(loss(a, a), torch.zeros(2))
    assert not any(p.requires_grad for p in loss.parameters())
    # in training, the perceptual term is logged and its gradient reaches the autoencoder
    config = InfdConfig.model_validate({"data": {"builtin_resolutions": [32], "num_items": 4}})
    model = NeuralFieldAutoencoder(config.autoencoder, config.renderer)
    trainer = AutoencoderTrainer(model, build_discriminator(config.loss.discriminator), loss, config)
    logs = trainer.step(PatchBatches(config.data, 32, 0)(0), 0, 0)
    assert logs["perceptual"] > 0 and {"gan", "gan_weight", "discriminator"} <= logs.keys()


def test_vgg16_architecture_loads_torchvision_style_weights(tmp_path):
    from torchvision.models import vgg16

    torch.manual_seed(2)
    state = {k: v for k, v in vgg16(weights=None).state_dict().items() if k.startswith("features.")}
    save_file(state, str(tmp_path / "vgg.safetensors"))
    loss = build_perceptual(PerceptualConfig(weights=str(tmp_path / "vgg.safetensors")))
    torch.testing.assert_close(loss.features[0].weight, state["features.0.weight"])
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert bool((loss(images, images.flip(-1)) > 0).all())


def test_bad_weight_files_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="not a file"):
        build_perceptual(PerceptualConfig(weights=str(tmp_path / "missing.safetensors")))
    weights = _save_small_perceptual(tmp_path / "small.safetensors", channels=(4, 8))
    with pytest.raises(ConfigError, match="does not fit"):
        build_perceptual(PerceptualConfig(weights=weights, arch="small", channels=[6, 8]))
    with pytest.raises(ConfigError, match="not a file"):
        build_discriminator(DiscriminatorConfig(weights=str(tmp_path / "missing.safetensors")))


def test_discriminator_takes_initial_weights_from_a_file(tmp_path):
    torch.manual_seed(3)
    source = build_discriminator(DiscriminatorConfig())
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(tmp_path / "d.safetensors"))
    loaded = build_discriminator(DiscriminatorConfig(weights=str(tmp_path / "d.safetensors")))
    for key, value in source.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)
    assert loaded(torch.zeros(1, 3, 32, 32)).shape[:2] == (1, 1)  # patch logits


def test_adaptive_weight_balances_gradient_norms():
    w = torch.randn(4, 4, requires_grad=True)
    x = torch.randn(4)
    rec, gan = (w @ x).abs().sum(), 3 * (w @ x).sum()
    weight = adaptive_weight(rec, gan, w, scale=0.75)
    (g_rec,), (g_gan,) = torch.autograd.grad(rec, w, retain_graph=True), torch.autograd.grad(gan, w)
    torch.testing.assert_close(weight, 0.75 * g_rec.norm() / (g_gan.norm() + 1e-4))


def test_balanced_sampling_draws_half_high_resolution():
    config = InfdConfig.model_validate(
        {"data": {"builtin_resolutions": [32, 64], "num_items": 64, "balanced": 0.5, "high_resolution": 64}}
    )
    data = PatchBatches(config.data, 32, seed=0)
    config_few = InfdConfig.model_validate(
        {"data": {"builtin_resolutions": [32, 32, 32, 64], "num_items": 8}}
    )
    del config_few
    sides = [data.sides[data.index(k)[0]] for k in range(2000)]
    fraction = sum(s == 64 for s in sides) / len(sides)
    assert abs(fraction - 0.5) < 0.05, fraction
    plain = PatchBatches(config.data.model_copy(update={"balanced": None}), 32, seed=0)
    assert sorted(plain.index(k)[0] for k in range(len(plain))) == list(range(len(plain)))  # an epoch


def test_config_presets_and_errors():
    paper = InfdConfig.model_validate({"preset": "paper"})
    assert paper.autoencoder.latent_size == 64 and paper.autoencoder.feature_channels == 128
    assert paper.autoencoder.codebook_size == 8192 and paper.autoencoder.beta == 0.25
    assert paper.renderer.feature_channels == 128 and paper.renderer.hidden_channels == 256
    assert paper.latent.unet.channels == 224 and paper.latent.unet.attention_resolutions == [8, 16, 32]
    assert (paper.latent.beta_start, paper.latent.beta_end, paper.sampling.steps) == (0.0015, 0.0195, 200)
    wider = InfdConfig.model_validate({"autoencoder": {"channels": 16}})
    assert wider.renderer.feature_channels == 16  # follows the decoder
    with pytest.raises(ValidationError, match="feature_channels"):
        InfdConfig.model_validate({"renderer": {"feature_channels": 5}})
    with pytest.raises(ValidationError, match="not divisible"):
        InfdConfig.model_validate({"autoencoder": {"encoder_size": 30}})
