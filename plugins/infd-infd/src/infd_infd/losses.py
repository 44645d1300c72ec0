"""Autoencoder objective (eq. 2): L1 + perceptual + adversarial, with a hinge PatchGAN discriminator.

The generator's GAN term is −mean D(p), weighted by VQGAN's adaptive weight
λ = ‖∇_w L_rec‖ / (‖∇_w L_GAN‖ + 1e-4) (clamped to [0, 10⁴]) at the renderer's output conv w, times
``disc_weight`` (0.75). The discriminator minimises the hinge loss mean(relu(1 − D(real))) +
mean(relu(1 + D(fake))) / 2.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from infd_core.errors import ConfigError
from infd_infd.config import DiscriminatorConfig


class PatchDiscriminator(nn.Module):
    """pix2pix's NLayerDiscriminator: 4×4 convs, stride 2 then 1, BatchNorm, LeakyReLU 0.2."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        c = config.channels
        layers: list[nn.Module] = [nn.Conv2d(3, c, 4, 2, 1), nn.LeakyReLU(0.2)]
        mult = 1
        for n in range(1, config.layers + 1):
            previous, mult = mult, min(2**n, 8)
            stride = 2 if n < config.layers else 1
            layers += [
                nn.Conv2d(c * previous, c * mult, 4, stride, 1, bias=False),
                nn.BatchNorm2d(c * mult),
                nn.LeakyReLU(0.2),
            ]
        layers.append(nn.Conv2d(c * mult, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        for module in self.modules():  # DCGAN initialisation, as the reference
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, 0.0, 0.02)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.normal_(module.weight, 1.0, 0.02)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_discriminator(config: DiscriminatorConfig) -> PatchDiscriminator:
    """The discriminator, with initial weights from ``config.weights`` (a local safetensors file) if given."""
    module = PatchDiscriminator(config)
    if config.weights is not None:
        import safetensors.torch

        if not Path(config.weights).is_file():
            raise ConfigError(f"loss.discriminator.weights: {config.weights} is not a file")
        try:
            module.load_state_dict(safetensors.torch.load_file(config.weights))
        except Exception as exc:
            first = str(exc).strip().splitlines()[0]
            raise ConfigError(
                f"loss.discriminator.weights: {config.weights} does not fit ({first})"
            ) from None
    return module


def hinge_discriminator_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean())


def adaptive_weight(
    reconstruction: torch.Tensor, adversarial: torch.Tensor, last_layer: torch.Tensor, scale: float
) -> torch.Tensor:
    """VQGAN's λ: balances the gradient norms of both terms at ``last_layer`` (times ``scale``)."""
    (rec_grad,) = torch.autograd.grad(reconstruction, last_layer, retain_graph=True)
    (gan_grad,) = torch.autograd.grad(adversarial, last_layer, retain_graph=True)
    weight = rec_grad.norm() / (gan_grad.norm() + 1e-4)
    return weight.clamp(0.0, 1e4).detach() * scale
