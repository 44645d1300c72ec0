"""Latent regularisers of the autoencoder: vector quantisation (the paper's) and a diagonal-Gaussian KL.

VQ (van den Oord et al.; as in VQGAN): each latent vector is replaced by its nearest codebook entry;
the loss is ‖sg(z) − q‖² + β ‖z − sg(q)‖² and the gradient passes straight through (z + sg(q − z)).
The codebook is initialised from the first training batch's latents (random picks, data-dependent init):
with the usual tiny uniform init every latent maps to one code at first and short runs never recover.
In data-parallel training every rank initialises it from the whole global first batch (see
``AutoencoderTrainer.initialise_codebook``), so all ranks start from the same codes.

Training draws (the KL's noise) take a generator, or one generator per sample so that a sample's draw
does not depend on which micro-batch or rank computes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from infd_core import draws

Generators = torch.Generator | Sequence[torch.Generator] | None


def _first(generator: Generators) -> torch.Generator | None:
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    return generator[0]


class VectorQuantiser(nn.Module):
    """Nearest-code quantisation of ``(B, C, h, w)`` latents with a ``(K, C)`` codebook."""

    def __init__(self, num_codes: int, dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.beta = beta
        self.codebook = nn.Embedding(num_codes, dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / num_codes, 1.0 / num_codes)
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def initialise(self, z: torch.Tensor, generator: torch.Generator | None) -> None:
        """Codes = latent vectors of ``z`` picked at random (with replacement when there are fewer)."""
        flat = z.detach().permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        device = generator.device if generator is not None else flat.device
        picks = torch.randint(
            flat.shape[0], (self.codebook.num_embeddings,), generator=generator, device=device
        )
        self.codebook.weight.copy_(flat[picks.to(flat.device)])
        self.initialised.fill_(True)

    def codes(self, z: torch.Tensor) -> torch.Tensor:
        """Index ``(B, h, w)`` of the nearest code of every latent vector."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        table = self.codebook.weight
        distance = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ table.t() + table.pow(2).sum(1)[None]
        return distance.argmin(1).reshape(z.shape[0], *z.shape[2:])

    def quantise(self, z: torch.Tensor) -> torch.Tensor:
        """The nearest codes, with the straight-through gradient to ``z``."""
        q = self.codebook(self.codes(z)).permute(0, 3, 1, 2)
        return z + (q - z).detach()

    def forward(self, z: torch.Tensor, generator: Generators = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantised latents (straight-through) and the codebook + commitment loss."""
        if self.training and not bool(self.initialised):
            self.initialise(z, _first(generator))
        q = self.codebook(self.codes(z)).permute(0, 3, 1, 2)
        loss = (q - z.detach()).pow(2).mean() + self.beta * (z - q.detach()).pow(2).mean()
        return z + (q - z).detach(), loss


class GaussianKL(nn.Module):
    """The encoder gives mean and log-variance (2C channels); training draws z with the given
    generator and adds the weighted KL to N(0, I); the latent of an image is its mean."""

    def __init__(self, weight: float = 1e-6) -> None:
        super().__init__()
        self.weight = weight

    @staticmethod
    def split(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = z.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def quantise(self, z: torch.Tensor) -> torch.Tensor:
        """Identity: latents for the decoder are means (or draws) already."""
        return z

    def forward(self, z: torch.Tensor, generator: Generators = None) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.split(z)
        std = (0.5 * logvar).exp()
        if generator is None or isinstance(generator, torch.Generator):
            noise = draws.randn(mean.shape, generator, dtype=mean.dtype, device=mean.device)
        else:  # one generator per sample
            noise = torch.stack(
                [draws.randn(mean.shape[1:], g, dtype=mean.dtype, device=mean.device) for g in generator]
            )
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=(1, 2, 3)).mean()
        return mean + std * noise, self.weight * kl
