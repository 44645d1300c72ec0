"""Guided sampling of ∞-Diff (§5): inpainting and super-resolution by reconstruction guidance.

A guidance pulls each DDIM step towards an observation y of the image through an operator A:
x_s ← x_s − λ_t ∇_{x_t} ‖A(x̂₀) − y‖². The model's x₀ estimate lives in mollified space (it predicts
Tξ), so y is the mollified observation. The step weight λ_t = λ · α_t · α_s / 2 follows Ho et al.'s
(2022) reconstruction guidance, which ∞-Diff adopts: ∂x̂₀/∂x_t ≈ 1/α_t, so a constant λ would blow up
at high noise, while λ_t moves x_s by about λ · α_s times the error.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from infd_core.errors import UsageError
from infd_inftydiff.denoiser import InftyDiffDenoiser
from infd_measures.discrete import DiscreteSchedule
from infd_measures.mollifier import GaussianMollifier
from infd_sparse import CoordinateBatch


class ReconstructionGuidance:
    """The guidance step for an observation ``observed`` of A(x₀); subclasses define A (:meth:`observe`)."""

    needs_grad = True

    def __init__(self, observed: torch.Tensor, schedule: DiscreteSchedule, scale: float) -> None:
        self.observed = observed
        self.schedule = schedule
        self.scale = scale

    def observe(self, x0: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, step: Any) -> torch.Tensor:
        with torch.enable_grad():
            residual = self.observe(step.prediction.x0) - self.observed
            (grad,) = torch.autograd.grad(residual.pow(2).sum(), step.x_t)
        alpha_t = self.schedule.alpha(round(step.t)).to(grad)
        return step.x_next - (self.scale * alpha_t * step.alpha_next / 2) * grad.detach()


class InpaintingGuidance(ReconstructionGuidance):
    """A = the mask: ‖m ⊙ (T x̂₀ − T x̄)‖² over the known pixels."""

    def __init__(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        mollifier: GaussianMollifier,
        schedule: DiscreteSchedule,
        scale: float,
    ) -> None:
        if mask.shape[-2:] != image.shape[-2:]:
            raise UsageError(f"mask of shape {list(mask.shape)} does not match the image {list(image.shape)}")
        self.weight = mask.expand_as(image).to(image.dtype)
        super().__init__(self.weight * mollifier.apply(image, method="auto"), schedule, scale)

    def observe(self, x0: torch.Tensor) -> torch.Tensor:
        return self.weight * x0


class SuperResolutionGuidance(ReconstructionGuidance):
    """A = area downsampling to the low-resolution image's size: ‖A(T x̂₀) − T_low y‖² (the mollifier
    scales with the image, so T at the low resolution blurs as much of the domain as T at the high)."""

    def __init__(
        self, low: torch.Tensor, mollifier: GaussianMollifier, schedule: DiscreteSchedule, scale: float
    ) -> None:
        self.size = tuple(low.shape[-2:])
        super().__init__(mollifier.apply(low, method="auto"), schedule, scale)

    def observe(self, x0: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x0, size=self.size, mode="area")


def fill_unknown(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``image [B, C, H, W]`` with the pixels outside ``mask [B, 1, H, W]`` set to the known pixels' mean."""
    known = mask.expand_as(image).to(image.dtype)
    mean = (image * known).sum((-2, -1), keepdim=True) / known.sum((-2, -1), keepdim=True).clamp(min=1)
    return torch.where(known > 0, image, mean)


def known_pixel_latent(model: InftyDiffDenoiser, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The latent of ``image [1, C, H, W]`` encoded from the pixels where ``mask [1, 1, H, W]`` is true
    only (the encoder reads any subset), so the region to fill cannot leak into it."""
    points = CoordinateBatch.from_masks(mask[:, 0])
    values = image[points.batch, :, points.coords[:, 0], points.coords[:, 1]]
    with torch.no_grad():
        return model.encode(values, points)
