"""Log-likelihood through the probability-flow ODE (Song et al. 2021; GUD App. B), with Hutchinson traces.

The augmented state (x, ℓ) is integrated from t_min ≈ 0 up to t_max = 1 with dx/dt = v(x, t) (the
probability-flow velocity) and dℓ/dt = ∇·v(x, t), so log p₀(x) = log π(x(1)) + ℓ(1) with the prior π
(standard normal by default: the whitened GUD prior). The divergence is estimated with fixed probes z,
∇·v ≈ mean_z zᵀ (∂v/∂x) z (``probe="rademacher"`` or ``"gaussian"``, ``num_probes`` each), or computed
exactly with one vector-Jacobian product per dimension (``probe="exact"``, for small states).

Reporting: ``nats`` is log p(x) (+ ``log_det_jacobian`` of any data → state transform); bits/dim is
-(nats + D log Δ)/(D ln 2) with Δ the dequantisation bin width in data units (:func:`bin_width_of`; for
{0..255} scaled to [-1, 1], Δ = 2/256), i.e. the negative of the dequantised discrete log-likelihood bound
in bits, or -nats/(D ln 2) without binning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from infd_core import draws
from infd_samplers.denoiser import Denoiser, Model, Prediction
from infd_samplers.errors import SamplerInputError
from infd_samplers.grids import StepsLike, time_grid
from infd_samplers.noise import Generators, draw, require_generator, white_noise
from infd_samplers.progress import SamplerStep, StepCallback
from infd_samplers.solvers import check_solver, check_tolerance, dormand_prince, fixed_step
from infd_samplers.stepping import evaluate, start_run

PROBES = ("rademacher", "gaussian", "exact")
Prior = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LogLikelihood:
    """Per-sample results (shape ``(B,)``): ``nats = prior_nats + divergence_nats + log_det_jacobian``."""

    nats: torch.Tensor
    bits_per_dim: torch.Tensor
    prior_nats: torch.Tensor
    divergence_nats: torch.Tensor
    num_dims: int
    evaluations: int


def rademacher(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """±1 with equal probability, shaped like ``like``."""
    bits = draws.randint(0, 2, like.shape, generator, device=like.device)
    return (2 * bits - 1).to(like.dtype)


def standard_normal_log_prob(x: torch.Tensor) -> torch.Tensor:
    """log N(x; 0, I) per sample."""
    flat = x.flatten(1)
    return -0.5 * flat.pow(2).sum(1) - 0.5 * flat.shape[1] * math.log(2.0 * math.pi)


def bin_width_of(levels: int = 256, low: float = -1.0, high: float = 1.0) -> float:
    """Width Δ of one quantisation bin once ``levels`` values are scaled to [low, high]."""
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1 or not high > low:
        raise SamplerInputError(f"need levels >= 1 and high > low, got {levels}, [{low}, {high}]")
    return (high - low) / levels


def dequantise(
    values: torch.Tensor,
    generator: torch.Generator,
    *,
    levels: int = 256,
    low: float = -1.0,
    high: float = 1.0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Uniform dequantisation: integer ``values`` in {0..levels-1} to low + (k + u) Δ, u ~ U[0, 1)."""
    width = bin_width_of(levels, low, high)
    k = torch.as_tensor(values)
    if k.is_floating_point() and not bool((k == k.floor()).all()):
        raise SamplerInputError("dequantise takes integer bin indices")
    if k.numel() and (int(k.min()) < 0 or int(k.max()) >= levels):
        raise SamplerInputError(f"bin indices must lie in [0, {levels - 1}]")
    u = draws.rand(k.shape, generator, dtype=dtype, device=k.device)
    return low + (k.to(dtype) + u) * width


def bits_per_dim(nats: torch.Tensor, num_dims: int, width: float | None = None) -> torch.Tensor:
    """-(nats + D log Δ)/(D ln 2); without ``width`` (continuous data) -nats/(D ln 2)."""
    offset = 0.0 if width is None else num_dims * math.log(width)
    return -(nats + offset) / (num_dims * math.log(2.0))


def ode_log_likelihood(
    denoiser: Denoiser | Model,
    x: torch.Tensor,
    schedule: Any,
    steps: StepsLike = 100,
    *,
    generator: Generators | None = None,
    callback: StepCallback | None = None,
    parameterisation: str | None = None,
    probe: str = "rademacher",
    num_probes: int = 1,
    solver: str = "rk45",
    rtol: float = 1e-5,
    atol: float = 1e-5,
    cond: Mapping[str, Any] | None = None,
    t_min: float = 1e-5,
    t_max: float = 1.0,
    bin_width: float | None = None,
    log_det_jacobian: float | torch.Tensor = 0.0,
    prior: Prior | None = None,
) -> LogLikelihood:
    """log p(x) per sample of the data ``x`` (batch first) under the model's probability-flow ODE.

    ``steps`` is the fixed-step grid (or the first-step hint of ``rk45``) between ``t_min`` and ``t_max``;
    ``generator`` draws the Hutchinson probes (not needed for ``probe="exact"``).
    """
    if probe not in PROBES:
        raise SamplerInputError(f"probe must be one of {', '.join(PROBES)}, got {probe!r}")
    if isinstance(num_probes, bool) or not isinstance(num_probes, int) or num_probes < 1:
        raise SamplerInputError(f"num_probes must be a positive int, got {num_probes!r}")
    if bin_width is not None and not bin_width > 0:
        raise SamplerInputError(f"bin_width must be > 0, got {bin_width}")
    check_solver(solver)
    rtol, atol = check_tolerance("rtol", rtol), check_tolerance("atol", atol)
    run = start_run(
        denoiser,
        x,
        schedule,
        parameterisation=parameterisation,
        generator=generator,
        callback=None,
        guidance=None,
        noise=None,
        cond=cond,
    )
    view = run.view
    view.require_continuous("ode_log_likelihood")
    grid = [float(t) for t in time_grid(view, steps, t_start=t_max, t_end=t_min, increasing=True)]
    shape, dims = x.shape, x[0].numel()
    probes: list[torch.Tensor] = []
    if probe != "exact":
        draw_probe = rademacher if probe == "rademacher" else white_noise
        gen = require_generator(generator, f"the {probe} Hutchinson estimator")
        probes = [draw(draw_probe, x, gen) for _ in range(num_probes)]
    counter = {"evaluations": 0}
    record: dict[str, Prediction] = {}

    def augmented(t: float, y: torch.Tensor, index: int) -> torch.Tensor:
        counter["evaluations"] += 1
        x_in, prediction = evaluate(run, y[:, :dims].reshape(shape), t, index, grad=True)
        record["last"] = prediction
        beta, sigma = view.cast(view.beta(t)), view.cast(view.sigma(t))
        with torch.enable_grad():
            velocity = -0.5 * beta * (x_in - prediction.eps / sigma)
            divergence = _divergence(velocity, x_in, probes)
        return torch.cat([velocity.detach().flatten(1), divergence.detach().unsqueeze(1)], dim=1)

    total = len(grid) - 1 if solver != "rk45" else None

    def on_step(index: int, t: float, s: float, y_start: torch.Tensor, y_end: torch.Tensor) -> torch.Tensor:
        if callback is not None:
            last = record["last"].detach()
            callback(SamplerStep(index, total, s, y_end[:, :dims].reshape(shape), last.raw, last.x0))
        return y_end

    start = torch.cat([x.detach().flatten(1), torch.zeros(shape[0], 1, dtype=x.dtype, device=x.device)], 1)
    if solver == "rk45":
        first = (grid[-1] - grid[0]) / (len(grid) - 1)
        end = dormand_prince(
            augmented, start, grid[0], grid[-1], rtol=rtol, atol=atol, first_step=first, on_step=on_step
        )
    else:
        end = fixed_step(augmented, start, grid, solver, on_step)
    prior_nats = (prior or standard_normal_log_prob)(end[:, :dims].reshape(shape))
    divergence_nats = end[:, dims]
    nats = prior_nats + divergence_nats + torch.as_tensor(log_det_jacobian, dtype=x.dtype, device=x.device)
    return LogLikelihood(
        nats=nats,
        bits_per_dim=bits_per_dim(nats, dims, bin_width),
        prior_nats=prior_nats,
        divergence_nats=divergence_nats,
        num_dims=dims,
        evaluations=counter["evaluations"],
    )


def _divergence(velocity: torch.Tensor, x: torch.Tensor, probes: list[torch.Tensor]) -> torch.Tensor:
    """Hutchinson estimate with ``probes``, or the exact trace (one VJP per dimension) without probes."""
    if probes:
        total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for i, z in enumerate(probes):
            (vjp,) = torch.autograd.grad(velocity, x, z, retain_graph=i + 1 < len(probes))
            total = total + (vjp * z).flatten(1).sum(1)
        return total / len(probes)
    flat = velocity.flatten(1)
    diagonal = []
    for j in range(flat.shape[1]):
        (row,) = torch.autograd.grad(flat[:, j].sum(), x, retain_graph=j + 1 < flat.shape[1])
        diagonal.append(row.flatten(1)[:, j])
    return torch.stack(diagonal, 1).sum(1)


__all__ = [
    "PROBES",
    "LogLikelihood",
    "bin_width_of",
    "bits_per_dim",
    "dequantise",
    "ode_log_likelihood",
    "rademacher",
    "standard_normal_log_prob",
]
