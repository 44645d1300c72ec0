"""The mollifier T of ∞-Diff (§3.1, eq. 8) and its Wiener-filter approximate inverse (§3.2).

T convolves with the Gaussian kernel K(y, l) = (4πl)^(-n/2) exp(-|y|²/(4l)), a Gaussian of variance 2l per
axis. ``variance`` (default 1.0, as in ∞-Diff App. A) is that variance in *pixel units of the training
resolution* ``reference_resolution``: on a grid of n pixels along an axis the kernel's variance is
``variance * (n / reference_resolution)**2`` pixels² (so T is the same operator on [0, 1]^d at every
resolution; without a reference resolution it is ``variance`` pixels² on every grid).

Discretisation, identical for grids and arbitrary points: T x(c) = Σ_j w_j(c) x_j over grid values x_j, with
per-axis weights w ∝ exp(-δ²/(2v)) for pixel offsets |δ| ≤ r_cut = max(truncate·√v, 1), normalised to sum
to one (so T preserves constants). Boundaries: ``reflect`` (half-sample symmetric, i.e. mirrored at the
domain edge, the DCT-II convention of the ∞-Diff code) or ``periodic``. Both make T a circular convolution
on the (symmetrically extended) periodic grid, diagonal in Fourier space with the real multiplier
g(k) = Σ_δ w_δ cos(2πkδ/m): this is what the FFT path and the Wiener filter g/(g² + ε²) use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch

from infd_measures._checks import check_coords, check_positive
from infd_measures.coordinates import check_grid_shape
from infd_measures.errors import ParameterError

Boundary = Literal["reflect", "periodic"]


class GaussianMollifier:
    """Gaussian blur T on grids of ``ndim`` (1 or 2) trailing axes, and at arbitrary points."""

    def __init__(
        self,
        variance: float = 1.0,
        *,
        reference_resolution: int | None = None,
        boundary: Boundary = "reflect",
        truncate: float = 4.0,
        ndim: int = 2,
    ) -> None:
        self.variance = check_positive("mollifier variance", variance)
        if reference_resolution is not None and (
            isinstance(reference_resolution, bool) or int(reference_resolution) < 1
        ):
            raise ParameterError(f"reference_resolution must be a positive int, got {reference_resolution!r}")
        self.reference_resolution = None if reference_resolution is None else int(reference_resolution)
        if boundary not in ("reflect", "periodic"):
            raise ParameterError(f"boundary must be 'reflect' or 'periodic', got {boundary!r}")
        self.boundary: Boundary = boundary
        self.truncate = check_positive("truncate", truncate)
        if ndim not in (1, 2):
            raise ParameterError(f"ndim must be 1 or 2, got {ndim!r}")
        self.ndim = ndim

    # -- kernel ----------------------------------------------------------------------------------------
    def pixel_variance(self, size: int) -> float:
        """The kernel variance in pixels² on an axis of ``size`` pixels."""
        if self.reference_resolution is None:
            return self.variance
        return self.variance * (size / self.reference_resolution) ** 2

    def _cutoff(self, size: int) -> tuple[float, int]:
        cut = max(self.truncate * math.sqrt(self.pixel_variance(size)), 1.0)
        return cut, math.floor(cut)

    def _softmax_weights(self, delta: torch.Tensor, size: int) -> torch.Tensor:
        cut, _ = self._cutoff(size)
        logits = -(delta**2) / (2.0 * self.pixel_variance(size))
        logits = logits.masked_fill(delta.abs() > cut, float("-inf"))
        return torch.softmax(logits, dim=-1)

    def grid_weights(self, size: int) -> torch.Tensor:
        """The normalised 1-D weights w_δ for δ = -R..R on an axis of ``size`` pixels (float64)."""
        _, radius = self._cutoff(size)
        delta = torch.arange(-radius, radius + 1, dtype=torch.float64)
        return self._softmax_weights(delta, size)

    def _map_index(self, index: torch.Tensor, size: int) -> torch.Tensor:
        if self.boundary == "periodic":
            return torch.remainder(index, size)
        folded = torch.remainder(index, 2 * size)
        return torch.where(folded >= size, 2 * size - 1 - folded, folded)

    def _period(self, size: int) -> int:
        return size if self.boundary == "periodic" else 2 * size

    def multiplier(self, size: int) -> torch.Tensor:
        """Real Fourier multiplier g(k), k = 0..m-1, of T on the periodic (extended) axis of length m."""
        weights = self.grid_weights(size)
        radius = (weights.numel() - 1) // 2
        m = self._period(size)
        k = torch.arange(m, dtype=torch.float64).unsqueeze(-1)
        delta = torch.arange(-radius, radius + 1, dtype=torch.float64)
        return (weights * torch.cos(2.0 * math.pi * k * delta / m)).sum(-1)

    # -- grids -----------------------------------------------------------------------------------------
    def _spatial_shape(self, values: torch.Tensor) -> tuple[int, ...]:
        if values.dim() < self.ndim:
            raise ParameterError(
                f"expected at least {self.ndim} spatial axes, got shape {tuple(values.shape)}"
            )
        return tuple(values.shape[-self.ndim :])

    def apply(
        self, values: torch.Tensor, method: Literal["separable", "fft", "auto"] = "separable"
    ) -> torch.Tensor:
        """T on grid values ``(..., *shape)`` (separable convolution or FFT; the same operator).

        ``auto``: the FFT where the kernel is wide enough that its per-pixel cost, 2R + 1 taps per axis,
        exceeds the transforms' (about 40 log₂ of the extended plane, measured on a CPU), e.g. for the
        kernels of images many times the reference resolution.
        """
        shape = self._spatial_shape(values)
        if method == "auto":
            taps = sum(2 * self._cutoff(n)[1] + 1 for n in shape)
            extended = math.prod(shape) * (2**self.ndim if self.boundary == "reflect" else 1)
            method = "fft" if taps > 40 * math.log2(max(extended, 2)) else "separable"
        if method == "fft":
            return self._fourier_filter(values, [self.multiplier(n) for n in shape], lambda g: g)
        if method != "separable":
            raise ParameterError(f"method must be 'separable' or 'fft', got {method!r}")
        out = values
        for axis in range(-self.ndim, 0):
            out = self._convolve_axis(out, axis)
        return out

    def _convolve_axis(self, values: torch.Tensor, axis: int) -> torch.Tensor:
        size = values.shape[axis]
        weights = self.grid_weights(size)
        radius = (weights.numel() - 1) // 2
        moved = values.movedim(axis, -1)
        index = self._map_index(torch.arange(-radius, size + radius, device=values.device), size)
        padded = moved[..., index]
        kernel = weights.to(device=values.device, dtype=values.dtype).view(1, 1, -1)
        out = torch.nn.functional.conv1d(padded.reshape(-1, 1, padded.shape[-1]), kernel).reshape(moved.shape)
        return out.movedim(-1, axis)

    def _fourier_filter(
        self, values: torch.Tensor, multipliers: list[torch.Tensor], response: Any
    ) -> torch.Tensor:
        """The real multiplier ``response(g)`` applied in Fourier space, one plane at a time.

        Per plane, the memory is a few float64 copies of one (symmetrically extended) plane whatever the
        batch, and each plane's result does not depend on the others by construction.
        """
        shape = self._spatial_shape(values)
        dims = list(range(-self.ndim, 0))
        gain = multipliers[0]
        for g in multipliers[1:]:
            gain = gain.unsqueeze(-1) * g
        half = gain.shape[-1] // 2 + 1
        filt = response(gain)[..., :half].to(device=values.device)
        planes = values.reshape(-1, *shape)
        out = torch.empty_like(planes)
        for i, plane in enumerate(planes):
            extended = plane.to(torch.float64)
            if self.boundary == "reflect":
                for axis in dims:
                    extended = torch.cat([extended, extended.flip(axis)], dim=axis)
            spectrum = torch.fft.rfftn(extended, dim=dims)
            filtered = torch.fft.irfftn(spectrum * filt, s=extended.shape, dim=dims)
            out[i] = filtered[tuple(slice(0, n) for n in shape)]
        return out.reshape(values.shape)

    def wiener_inverse(self, values: torch.Tensor, epsilon: float = 1e-3) -> torch.Tensor:
        """Approximate T⁻¹: the Wiener filter g/(g² + ε²) with inverse-SNR ``epsilon`` (∞-Diff §3.2)."""
        shape = self._spatial_shape(values)
        return self._fourier_filter(
            values, [self.multiplier(n) for n in shape], self.wiener_response(epsilon)
        )

    def wiener_response(self, epsilon: float) -> Any:
        """The Wiener filter's multiplier as a function of T's: g/(g² + ε²) (1/g for ε = 0)."""
        epsilon = check_positive("epsilon", epsilon, allow_zero=True)
        if epsilon == 0.0:
            return lambda g: 1.0 / g
        return lambda g: g / (g**2 + epsilon**2)

    def filter_streamed(
        self, source: Any, target: Any, response: Any, allocate: Any, memory_budget: int, **kw: Any
    ) -> None:
        """A Fourier filter of T (``response(g)``; ``lambda g: g`` is T itself) on ``[B, C, H, W]`` arrays
        out of core, band by band (:func:`infd_measures.streamed_filter.fourier_filter_streamed`)."""
        from infd_measures.streamed_filter import fourier_filter_streamed

        fourier_filter_streamed(self, source, target, response, allocate, memory_budget, **kw)

    def matrix(self, shape: Sequence[int]) -> torch.Tensor:
        """Dense T ``(N, N)`` on a grid of ``shape`` (N = prod(shape)), row-major; for small grids."""
        dims = check_grid_shape(shape)
        if len(dims) != self.ndim:
            raise ParameterError(f"this mollifier acts on {self.ndim}-D grids, got shape {dims}")
        n = math.prod(dims)
        columns = self.apply(torch.eye(n, dtype=torch.float64).reshape(n, *dims))
        return columns.reshape(n, n).T.contiguous()

    # -- points ----------------------------------------------------------------------------------------
    def _axis_point_weights(self, position: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        _, radius = self._cutoff(size)
        u = position.to(torch.float64) * size - 0.5  # pixel units, centres at integers
        offsets = torch.arange(-radius, radius + 2, device=position.device)
        index = torch.floor(u).long().unsqueeze(-1) + offsets
        weights = self._softmax_weights(u.unsqueeze(-1) - index.to(torch.float64), size)
        return self._map_index(index, size), weights

    def apply_at(self, values: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """(T x)(c) at points ``coords (..., M, d)`` of grid values ``(..., C, *shape)``: ``(..., M, C)``.

        Leading axes of ``coords`` and ``values`` broadcast. At pixel centres this equals ``apply`` exactly.
        """
        coords = check_coords(coords, self.ndim)
        shape = self._spatial_shape(values)
        if values.dim() < self.ndim + 1:
            raise ParameterError(f"grid values must be (..., C, *shape), got shape {tuple(values.shape)}")
        linear: torch.Tensor | None = None
        weight: torch.Tensor | None = None
        for axis, size in enumerate(shape):
            index, w = self._axis_point_weights(coords[..., axis], size)
            view = [1] * self.ndim
            view[axis] = index.shape[-1]
            index = index.reshape(*index.shape[:-1], *view)
            w = w.reshape(*w.shape[:-1], *view)
            linear = index if linear is None else linear * size + index
            weight = w if weight is None else weight * w
        assert linear is not None
        assert weight is not None
        linear, weight = linear.flatten(-self.ndim), weight.flatten(-self.ndim)  # (..., M, K)
        channels = values.shape[-self.ndim - 1]
        batch = torch.broadcast_shapes(values.shape[: -self.ndim - 1], coords.shape[:-2])
        flat = values.flatten(-self.ndim).expand(*batch, channels, -1)
        points, taps = linear.shape[-2:]
        index = linear.reshape(*linear.shape[:-2], 1, points * taps).expand(*batch, channels, -1)
        gathered = torch.gather(flat, -1, index).reshape(*batch, channels, points, taps)
        out = (gathered * weight.to(values.dtype).unsqueeze(-3)).sum(-1)
        return out.transpose(-1, -2)

    @classmethod
    def from_config(cls, config: Any) -> GaussianMollifier:
        """Build from the mollifier fields of :class:`~infd_measures.configs.MollifiedNoiseConfig`."""
        return cls(
            config.variance,
            reference_resolution=config.reference_resolution,
            boundary=config.boundary,
            truncate=config.truncate,
            ndim=config.ndim,
        )

    def __repr__(self) -> str:
        return (
            f"GaussianMollifier(variance={self.variance}, reference_resolution={self.reference_resolution}, "
            f"boundary={self.boundary!r}, truncate={self.truncate}, ndim={self.ndim})"
        )


__all__ = ["Boundary", "GaussianMollifier"]
