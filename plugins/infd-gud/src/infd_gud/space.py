"""The GUD design space: basis U, prior S and component-wise schedules, built by name through the registry.

The diffused state is ``z = S⁻¹ U (x - mean)`` of shape ``(B, C, D)``; the fitted statistics (mean, Σ, S and
for PCA the matrix U) are plain tensors so a checkpoint holds everything needed to sample.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch

from infd_core.registry import Registry
from infd_gud.config import BasisSettings, PriorSettings, ScheduleSettings
from infd_gud.errors import BasisNotFittedError, GudUsageError
from infd_measures.bases.base import Basis
from infd_measures.bases.pca import PCABasis
from infd_measures.componentwise import ComponentwiseSchedule
from infd_measures.errors import ParameterError
from infd_measures.priors import ComponentPrior

logger = logging.getLogger(__name__)

_RANGES = {"softness": "softness_range", "a": "a_range", "b": "b_range"}
_PARAMETERS = {
    "linear-soft": ("softness", "ordering_r"),
    "columnwise": ("b",),
    "haar-columnwise": ("a", "b"),
}


class ComponentSpace:
    """Basis + prior (fitted or restored) and the schedule family of the config."""

    def __init__(
        self,
        basis: BasisSettings,
        prior: PriorSettings,
        schedule: ScheduleSettings,
        shape: tuple[int, int],
        channels: int,
        registry: Registry,
    ) -> None:
        self.basis_settings, self.prior_settings, self.schedule_settings = basis, prior, schedule
        self.shape, self.channels, self.registry = (int(shape[0]), int(shape[1])), channels, registry
        self._prior: ComponentPrior | None = None

    # -- fitting and state -------------------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return self._prior is not None

    @property
    def prior(self) -> ComponentPrior:
        if self._prior is None:
            raise BasisNotFittedError(
                f"the {self.basis_settings.name} basis and prior are not fitted: call fit(data) (train) or "
                "load a checkpoint first"
            )
        return self._prior

    @property
    def basis(self) -> Basis:
        return self.prior.basis

    @property
    def num_components(self) -> int:
        return self.shape[0] * self.shape[1]

    def _build_basis(self, data: torch.Tensor | None) -> Basis:
        name, settings = self.basis_settings.name, self.basis_settings
        spec = self.registry.get("bases", name)
        if name == "pca":
            return spec.build({"eigenvalue_floor": settings.eigenvalue_floor}, data=data)
        config: dict[str, Any] = {"shape": self.shape}
        if name == "haar":
            config["levels"] = settings.levels
        return spec.build(config)

    def fit(self, data: torch.Tensor) -> ComponentSpace:
        """Fit the basis (PCA) and the prior's mean and Σ from images ``(B, C, H, W)``."""
        if data.dim() != 4 or tuple(data.shape[-2:]) != self.shape or data.shape[1] != self.channels:
            raise GudUsageError(
                f"fit data must be (B, {self.channels}, *{self.shape}), got {tuple(data.shape)}"
            )
        basis = self._build_basis(data)
        self._prior = ComponentPrior.fit(
            basis, data, self.prior_settings.kind, per_channel=self.prior_settings.per_channel
        )
        logger.info("fitted %r on %d images", self._prior, data.shape[0])
        return self

    def tensors(self) -> dict[str, torch.Tensor]:
        """The fitted statistics as tensors (for the checkpoint)."""
        prior = self.prior
        out = {"mean": prior.mean, "data_variance": prior.data_variance, "scale": prior.scale}
        if isinstance(prior.basis, PCABasis):
            out["pca_components"], out["pca_eigenvalues"] = prior.basis.components, prior.basis.eigenvalues
        return {k: v.detach().clone().contiguous() for k, v in out.items()}

    def load(self, tensors: dict[str, torch.Tensor]) -> ComponentSpace:
        """Restore what :meth:`tensors` returned."""
        if self.basis_settings.name == "pca":
            basis: Basis = PCABasis(tensors["pca_components"], tensors["pca_eigenvalues"], self.shape)
        else:
            basis = self._build_basis(None)
        self._prior = ComponentPrior(
            basis, tensors["mean"], tensors["data_variance"], tensors["scale"], self.prior_settings.kind
        )
        return self

    # -- transforms ----------------------------------------------------------------------------------------
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` to whitened components ``(B, C, D)``."""
        return self.prior.encode(images)

    def decode(self, state: torch.Tensor) -> torch.Tensor:
        """Whitened components ``(B, C, D)`` to images ``(B, C, H, W)``."""
        return self.prior.decode(state)

    def log_det_jacobian(self) -> float:
        """log |det ∂z/∂x| = -C Σ_i log S_i (U is orthogonal)."""
        scale = self.prior.scale.expand(self.channels, -1)
        return -float(scale.log().sum())

    def position_labels(self) -> torch.Tensor:
        """Per-component labels ``(D, 2)`` in [0, 1]: the index and the basis' label (App. A).

        PCA: -log Σ_i (the ordering variable); FFT: |k_i|; pixel and Haar: the column index.
        """
        count = self.num_components
        index = torch.arange(count, dtype=torch.float64) / max(count - 1, 1)
        name = self.basis_settings.name
        if name == "pca":
            label = -self.prior.data_log_variance()
        elif name == "fft":
            label = self.basis.frequency().to(torch.float64)
        else:
            label = self.basis.columns()[0].to(torch.float64).flatten()
        span = float(label.max() - label.min())
        label = (label - label.min()) / span if span > 0 else torch.zeros_like(label)
        return torch.stack([index, label], dim=1).to(torch.float32)

    # -- schedules -----------------------------------------------------------------------------------------
    def parameters(self) -> dict[str, float]:
        """The configured (fixed) schedule parameters."""
        settings = self.schedule_settings
        return {key: float(getattr(settings, key)) for key in _PARAMETERS[settings.name]}

    def draw_parameters(self, generator: torch.Generator) -> dict[str, float]:
        """Parameters with every configured ``*_range`` drawn uniformly (one draw per batch, §4.5)."""
        params = self.parameters()
        for key in params:
            bounds = getattr(self.schedule_settings, _RANGES.get(key, ""), None)
            if bounds is not None:
                u = float(torch.rand((), generator=generator, dtype=torch.float64))
                low, high = bounds
                if math.isinf(high):  # an open-ended softness range is drawn uniformly up to 1e6
                    high = 1e6
                params[key] = low + u * (high - low)
        return params

    def schedule(self, parameters: dict[str, float] | None = None) -> ComponentwiseSchedule:
        """The component-wise schedule with ``parameters`` (default: the configured ones)."""
        settings = self.schedule_settings
        params = {**self.parameters(), **(parameters or {})}
        unknown = set(params) - set(_PARAMETERS[settings.name])
        if unknown:
            raise GudUsageError(
                f"schedule {settings.name!r} takes {_PARAMETERS[settings.name]}, got {sorted(unknown)}"
            )
        for key in ("a", "b"):
            if key in params and not 0.0 <= params[key] < 1.0:
                raise GudUsageError(f"schedule parameter {key}={params[key]} out of range [0, 1)")
        if "softness" in params and not params["softness"] > 0:
            raise GudUsageError(f"schedule parameter softness={params['softness']} must be > 0")
        config = {
            "gamma_denoise": settings.gamma_denoise,
            "gamma_noise": settings.gamma_noise,
            "sigma_min": settings.sigma_min,
            **params,
        }
        try:
            return self.registry.get("schedules", settings.name).build(config, prior=self.prior)
        except ParameterError as exc:
            raise GudUsageError(f"schedule {settings.name!r}: {exc}") from None


__all__ = ["ComponentSpace"]
