"""Bad input gives a clear error; NaN from the denoiser names the step where it appeared."""

from __future__ import annotations

import pytest
import torch
from samplers_testutils import COV3, DT, MEAN3, GaussianDenoiser

from infd_core.errors import InfdError, UsageError
from infd_measures import DiscreteSchedule, VPSDESchedule, linear_soft_schedule
from infd_samplers import (
    Denoiser,
    NonFiniteError,
    SamplerInputError,
    ddim,
    ddpm,
    ode_log_likelihood,
    probability_flow,
    reverse_sde,
)

DISCRETE = DiscreteSchedule.linear(100, 1e-3, 0.2)
CONTINUOUS = VPSDESchedule()


def _x(count=4, dims=3):
    return torch.randn(count, dims, generator=torch.Generator().manual_seed(0), dtype=DT)


def test_input_errors_are_usage_and_value_errors():
    assert issubclass(SamplerInputError, UsageError) and issubclass(SamplerInputError, ValueError)
    assert issubclass(NonFiniteError, InfdError)


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (0, "positive"),
        (-3, "positive"),
        (101, "exceeds"),
        ([10, 20, 5], "strictly decreasing"),
        ([50, 50, 0], "strictly decreasing"),
        ([150, 10], r"\[0, 100\]"),
        ([10.5, 3], "integer"),
        (2.0, "positive int"),
    ],
)
def test_bad_discrete_steps(steps, message):
    denoiser = GaussianDenoiser(MEAN3, COV3, DISCRETE)
    with pytest.raises(SamplerInputError, match=message):
        ddim(denoiser, _x(), DISCRETE, steps)


@pytest.mark.parametrize(
    ("steps", "message"), [([0.2, 0.5], "decreasing"), ([1.5, 0.5], r"\[0, 1\]"), ([0.5], "two")]
)
def test_bad_continuous_grids(steps, message):
    with pytest.raises(SamplerInputError, match=message):
        probability_flow(GaussianDenoiser(MEAN3, COV3, CONTINUOUS), _x(), CONTINUOUS, steps)


def test_schedule_of_the_wrong_length():
    schedule = linear_soft_schedule(torch.zeros(5, dtype=DT))
    with pytest.raises(SamplerInputError, match="5 components"):
        ddim(lambda x, t: x, _x(dims=4), schedule, 10)


@pytest.mark.parametrize("eta", [-0.1, 1.5, "x"])
def test_eta_outside_the_unit_interval(eta):
    with pytest.raises(SamplerInputError, match="eta"):
        ddim(GaussianDenoiser(MEAN3, COV3, DISCRETE), _x(), DISCRETE, 10, eta=eta)


@pytest.mark.parametrize(("name", "value"), [("rtol", 0.0), ("atol", -1e-5), ("rtol", float("nan"))])
def test_non_positive_tolerances(name, value):
    with pytest.raises(SamplerInputError, match=name):
        probability_flow(
            GaussianDenoiser(MEAN3, COV3, CONTINUOUS), _x(), CONTINUOUS, 10, solver="rk45", **{name: value}
        )


def test_unknown_names_and_missing_generators():
    denoiser = GaussianDenoiser(MEAN3, COV3, CONTINUOUS)
    with pytest.raises(SamplerInputError, match="rk45"):
        probability_flow(denoiser, _x(), CONTINUOUS, 10, solver="midpoint")
    with pytest.raises(SamplerInputError, match="parameterisation"):
        ddim(denoiser, _x(), CONTINUOUS, 10, parameterisation="epsilon")
    with pytest.raises(SamplerInputError, match="variance"):
        ddpm(
            GaussianDenoiser(MEAN3, COV3, DISCRETE),
            _x(),
            DISCRETE,
            10,
            generator=torch.Generator(),
            variance="v",
        )
    with pytest.raises(SamplerInputError, match="generator"):
        reverse_sde(denoiser, _x(), CONTINUOUS, 10, generator=None)
    with pytest.raises(SamplerInputError, match="generator"):
        ode_log_likelihood(denoiser, _x(), CONTINUOUS, 10)
    with pytest.raises(SamplerInputError, match="continuous schedule"):
        reverse_sde(denoiser, _x(), DISCRETE, 10, generator=torch.Generator())
    with pytest.raises(SamplerInputError, match="conflicts"):
        ddim(Denoiser(denoiser, "x0"), _x(), CONTINUOUS, 10, parameterisation="eps")
    with pytest.raises(SamplerInputError, match="one per batch element"):
        ddpm(GaussianDenoiser(MEAN3, COV3, DISCRETE), _x(), DISCRETE, 10, generator=[torch.Generator()])
    with pytest.raises(SamplerInputError, match="NaN"):
        ddim(denoiser, torch.full((2, 3), float("nan"), dtype=DT), CONTINUOUS, 10)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "ode", "sde"])
def test_nan_from_the_denoiser_names_the_step(sampler):
    schedule = DISCRETE if sampler in ("ddpm", "ddim") else CONTINUOUS
    exact = GaussianDenoiser(MEAN3, COV3, schedule)
    calls = {"n": 0}

    def breaks_at_call_8(x, t):
        calls["n"] += 1
        out = exact(x, t)
        return out * float("nan") if calls["n"] == 8 else out

    run = {
        "ddpm": lambda: ddpm(breaks_at_call_8, _x(), schedule, 20, generator=torch.Generator()),
        "ddim": lambda: ddim(breaks_at_call_8, _x(), schedule, 20),
        "ode": lambda: probability_flow(breaks_at_call_8, _x(), schedule, 20, solver="euler"),
        "sde": lambda: reverse_sde(breaks_at_call_8, _x(), schedule, 20, generator=torch.Generator()),
    }[sampler]
    with pytest.raises(NonFiniteError, match=r"NaN at step 7 \(t = ") as info:
        run()
    assert info.value.step == 7


def test_nan_inside_a_heun_step_is_reported_with_that_step():
    exact = GaussianDenoiser(MEAN3, COV3, CONTINUOUS)

    def breaks_late(x, t):
        return exact(x, t) * (float("inf") if float(t[0]) < 0.5 else 1.0)

    with pytest.raises(NonFiniteError, match=r"inf at step 5 \(t = 0\.4\)") as info:  # Heun's 2nd stage
        probability_flow(
            breaks_late, _x(), CONTINUOUS, torch.linspace(1.0, 0.0, 11, dtype=DT)[:-1], solver="heun"
        )
    assert info.value.step == 5 and info.value.t == pytest.approx(0.4)
