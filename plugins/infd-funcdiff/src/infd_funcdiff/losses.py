"""GP noise on each curve's own points and the losses of function-space diffusion (predicting ξ).

With d = ξ̂ − ξ at the M points of a curve and C the noise covariance there:

* ``l2`` (discrete): ½ dᵀC⁻¹d, through the Cholesky factor (½‖L⁻¹d‖²);
* ``spectral``: ½ Σ_k ⟨d, φ_k⟩²/λ_k over the ``n_terms`` largest eigenpairs of C (Nyström);
* ``sobolev`` (1-D): ½ ‖C^{-1/2} d‖²_H¹, eigenvalues of C clipped at ``eig_floor``, H¹ by finite
  differences (:func:`infd_measures.sobolev_h1_squared_norm`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from infd_funcdiff.errors import FuncDiffInputError
from infd_measures import GaussianProcess, sobolev_h1_squared_norm

LOSSES = ("l2", "spectral", "sobolev")


class CurveNoise:
    """GP noise factors (and eigenpairs) precomputed for a fixed list of point sets.

    Curves that share their points share one factorisation; ``index[k]`` is the set of curve ``k``.
    """

    def __init__(self, gp: GaussianProcess, coords: Sequence[torch.Tensor], *, eigen: bool = False) -> None:
        counts = {int(x.numel()) for x in coords}
        if len(counts) != 1:
            raise FuncDiffInputError(
                f"training curves must all have the same number of points (found {sorted(counts)})"
            )
        first = coords[0]
        shared = all(bool(torch.equal(x, first)) for x in coords)
        sets = torch.stack([first] if shared else list(coords)).to(torch.float64)
        self.gp = gp
        self.points = sets  # (S, M)
        self.index = torch.zeros(len(coords), dtype=torch.long) if shared else torch.arange(len(coords))
        covariance = gp.covariance(sets[..., None])
        self.factors = torch.linalg.cholesky(covariance)
        self.eigvals: torch.Tensor | None = None
        self.eigvecs: torch.Tensor | None = None
        if eigen:
            self.eigvals, self.eigvecs = torch.linalg.eigh(covariance)

    def coords(self, curves: torch.Tensor) -> torch.Tensor:
        """Points ``(B, M)`` of the curves with indices ``curves``."""
        return self.points[self.index[curves]]

    def sample(self, curves: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """ξ ~ N(0, C) on the points of each curve in ``curves``: float64 ``(B, M)``."""
        factors = self.factors[self.index[curves]]
        z = torch.randn(factors.shape[0], factors.shape[-1], 1, generator=generator, dtype=torch.float64)
        return (factors @ z)[..., 0]

    def loss(self, kind: str, diff: torch.Tensor, curves: torch.Tensor, **options: float) -> torch.Tensor:
        """The per-curve loss ``(B,)`` of ``diff = ξ̂ − ξ`` (see the module docstring)."""
        sets = self.index[curves]
        eig = None
        if kind != "l2":
            if self.eigvals is None or self.eigvecs is None:
                raise FuncDiffInputError(f"the {kind} loss needs CurveNoise(..., eigen=True)")
            eig = (self.eigvals[sets], self.eigvecs[sets])
        return noise_loss(kind, diff, self.factors[sets], eig, self.points[sets], **options)


def noise_loss(
    kind: str,
    diff: torch.Tensor,
    factors: torch.Tensor,
    eigen: tuple[torch.Tensor, torch.Tensor] | None,
    coords: torch.Tensor,
    *,
    n_terms: int = 32,
    eig_floor: float = 1e-5,
) -> torch.Tensor:
    """Per-curve loss of ``diff (B, M)`` given Cholesky ``factors (B, M, M)`` or ``eigen`` of C."""
    if kind not in LOSSES:
        raise FuncDiffInputError(f"unknown loss {kind!r}; available: {', '.join(LOSSES)}")
    d = diff.to(torch.float64)
    if kind == "l2":
        white = torch.linalg.solve_triangular(factors, d[..., None], upper=False)[..., 0]
        return 0.5 * white.pow(2).sum(-1)
    if eigen is None:
        raise FuncDiffInputError(f"the {kind} loss needs the eigenpairs of the covariance")
    vals, vecs = eigen  # ascending
    proj = (vecs.transpose(-1, -2) @ d[..., None])[..., 0]  # (B, M)
    if kind == "spectral":
        terms = min(int(n_terms), vals.shape[-1])
        top_vals, top_proj = vals[..., -terms:], proj[..., -terms:]
        return 0.5 * (top_proj.pow(2) / top_vals.clamp_min(1e-12)).sum(-1)
    whitened = (vecs @ (proj / vals.clamp_min(eig_floor).sqrt())[..., None])[..., 0]
    return 0.5 * sobolev_h1_squared_norm(whitened[..., None], coords[..., None].to(whitened))


__all__ = ["LOSSES", "CurveNoise", "noise_loss"]
