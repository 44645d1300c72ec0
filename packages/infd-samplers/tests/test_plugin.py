"""Registration, configs, progress callbacks."""

from __future__ import annotations

import subprocess
import sys

import pydantic
import pytest
import torch
from samplers_testutils import COV3, DT, MEAN3, GaussianDenoiser

from infd_core.events import ProgressEvent
from infd_core.plugins import InfdPluginManager
from infd_measures import DiscreteSchedule, VPSDESchedule
from infd_samplers import SamplerStep, ddim, probability_flow, progress_events
from infd_samplers.configs import DDIMConfig, ProbabilityFlowConfig


def test_samplers_are_registered():
    registry = InfdPluginManager().registry()
    assert {"ddpm", "ddim", "pf-ode", "reverse-sde"} <= set(registry.names("samplers"))
    assert registry.get("samplers", "ddim").distribution == "infd-samplers"


def test_listing_and_configs_import_no_torch():
    code = (
        "import sys; from infd_core.plugins import InfdPluginManager; r = InfdPluginManager().registry(); "
        "[s.config_model() for s in r.specs('samplers')]; import infd_samplers; "
        "print([m for m in sys.modules if m == 'torch' or m.startswith('infd_samplers.') and "
        "m != 'infd_samplers.plugin' and m != 'infd_samplers.configs'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_build_from_config_and_sample():
    registry = InfdPluginManager().registry()
    sampler = registry.get("samplers", "ddim").build({"steps": 20, "eta": 0.0})
    schedule = DiscreteSchedule.linear(100, 1e-3, 0.2)
    denoiser = GaussianDenoiser(MEAN3, COV3, schedule)
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=DT)
    assert torch.equal(sampler(denoiser, x, schedule), ddim(denoiser, x, schedule, 20))
    ode = registry.get("samplers", "pf-ode").build({"solver": "rk4", "steps": 10})
    continuous = VPSDESchedule()
    dense = GaussianDenoiser(MEAN3, COV3, continuous)
    assert torch.equal(ode(dense, x, continuous), probability_flow(dense, x, continuous, 10, solver="rk4"))


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (DDIMConfig, {"eta": 1.5}),
        (DDIMConfig, {"steps": 0}),
        (DDIMConfig, {"eat": 0.1}),
        (ProbabilityFlowConfig, {"rtol": 0.0}),
        (ProbabilityFlowConfig, {"solver": "midpoint"}),
    ],
)
def test_configs_validate(model, values):
    with pytest.raises(pydantic.ValidationError):
        model.model_validate(values)


def test_callback_receives_each_step_and_feeds_progress_events():
    schedule = DiscreteSchedule.linear(100, 1e-3, 0.2)
    denoiser = GaussianDenoiser(MEAN3, COV3, schedule)
    x = torch.randn(2, 3, generator=torch.Generator().manual_seed(0), dtype=DT)
    steps: list[SamplerStep] = []
    ddim(denoiser, x, schedule, 10, callback=steps.append)
    assert [s.index for s in steps] == list(range(10)) and all(s.total == 10 for s in steps)
    assert [s.t for s in steps] == [90, 80, 70, 60, 50, 40, 30, 20, 10, 0]
    assert steps[-1].x.shape == x.shape and steps[0].denoised.shape == x.shape
    events: list[ProgressEvent] = []
    ddim(denoiser, x, schedule, 10, callback=progress_events(events.append, "sample"))
    assert [(e.task, e.step, e.total) for e in events] == [("sample", i, 10) for i in range(1, 11)]
    assert events[-1].metrics["t"] == 0.0
