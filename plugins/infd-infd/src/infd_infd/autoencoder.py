"""The image neural field autoencoder (§4.1): E (VQGAN-f4 style) → VQ/KL → D → φ, and the CLIF renderer R.

The encoder sees the image resampled to ``encoder_size``²; the decoder mirrors it and stops before its
output layer, so φ has ``channels × channel_mult[0]`` channels at ``encoder_size``². The renderer is
:class:`infd_render.CLIFRenderer`; :meth:`NeuralFieldAutoencoder.forward` is the one training forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from infd_infd.config import AutoencoderConfig
from infd_infd.regularisers import GaussianKL, Generators, VectorQuantiser
from infd_render import CLIFConfig, CLIFRenderer


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(groups, channels, eps=1e-6)


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv3×3, twice, with a (1×1 when needed) skip."""

    def __init__(self, cin: int, cout: int, groups: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(cin, groups), nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2, self.conv2 = _norm(cout, groups), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Encoder(nn.Module):
    """conv → levels of residual blocks with stride-2 downsampling between them → mid → z."""

    def __init__(self, config: AutoencoderConfig, out_channels: int) -> None:
        super().__init__()
        c, g = config.channels, config.norm_groups
        self.conv_in = nn.Conv2d(3, c, 3, padding=1)
        layers: list[nn.Module] = []
        cin = c
        for level, mult in enumerate(config.channel_mult):
            for _ in range(config.num_res_blocks):
                layers.append(ResBlock(cin, c * mult, g))
                cin = c * mult
            if level < len(config.channel_mult) - 1:
                layers.append(nn.Conv2d(cin, cin, 3, stride=2, padding=1))
        layers += [ResBlock(cin, cin, g), ResBlock(cin, cin, g), _norm(cin, g), nn.SiLU()]
        self.body = nn.Sequential(*layers)
        self.conv_out = nn.Conv2d(cin, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.body(self.conv_in(x)))


class Decoder(nn.Module):
    """z → conv → mid → levels with nearest-neighbour 2× upsampling → φ (no output layer)."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        c, g, mults = config.channels, config.norm_groups, config.channel_mult
        cin = c * mults[-1]
        self.conv_in = nn.Conv2d(config.latent_channels, cin, 3, padding=1)
        layers: list[nn.Module] = [ResBlock(cin, cin, g), ResBlock(cin, cin, g)]
        for level in reversed(range(len(mults))):
            for _ in range(config.num_res_blocks + 1):
                layers.append(ResBlock(cin, c * mults[level], g))
                cin = c * mults[level]
            if level > 0:
                layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cin, 3, padding=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.conv_in(z))


def resample_for_encoder(images: torch.Tensor, size: int) -> torch.Tensor:
    """Images ``(B, 3, h, w)`` resampled to ``size``² (antialiased bicubic; the paper uses Lanczos)."""
    if tuple(images.shape[-2:]) == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bicubic", antialias=True, align_corners=False)


class NeuralFieldAutoencoder(nn.Module):
    """E, the regulariser, D and R in one module; ``forward`` renders training patches."""

    def __init__(self, config: AutoencoderConfig, renderer: CLIFConfig) -> None:
        super().__init__()
        self.config = config
        doubled = 2 if config.regulariser == "kl" else 1
        self.encoder = Encoder(config, doubled * config.latent_channels)
        self.quant_conv = nn.Conv2d(doubled * config.latent_channels, doubled * config.latent_channels, 1)
        self.regulariser: nn.Module = (
            VectorQuantiser(config.codebook_size, config.latent_channels, config.beta)
            if config.regulariser == "vq"
            else GaussianKL(config.kl_weight)
        )
        self.post_quant_conv = nn.Conv2d(config.latent_channels, config.latent_channels, 1)
        self.decoder = Decoder(config)
        self.renderer = CLIFRenderer(renderer)

    def _moments(self, images: torch.Tensor) -> torch.Tensor:
        return self.quant_conv(self.encoder(resample_for_encoder(images, self.config.encoder_size)))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """The latent z of images in [−1, 1] (before quantisation; the KL mean), ``(B, C, h, w)``."""
        moments = self._moments(images)
        return GaussianKL.split(moments)[0] if self.config.regulariser == "kl" else moments

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """φ = D(z): quantised first (VQ, straight-through), ``(B, feature_channels, H, W)``."""
        return self.decoder(self.post_quant_conv(self.regulariser.quantise(z)))

    def render(self, features: torch.Tensor, coords: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """R(c, s; φ) on coordinate grids ``(B, H, W, 2)`` → ``(B, 3, H, W)``."""
        return self.renderer.render(features, coords, cells)

    def forward(
        self,
        images: torch.Tensor,
        coords: torch.Tensor,
        cells: torch.Tensor,
        generator: Generators = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Render the patches at ``coords``/``cells`` from the images; also the regulariser's loss."""
        z, regulariser_loss = self.regulariser(self._moments(images), generator)
        features = self.decoder(self.post_quant_conv(z))
        return self.render(features, coords, cells), regulariser_loss

    @property
    def last_layer(self) -> torch.Tensor:
        """The weight the adaptive GAN weight is measured at (the renderer's output conv)."""
        return self.renderer.net.conv_out.weight
