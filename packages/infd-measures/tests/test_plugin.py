"""Registration through the ``infd`` entry points, cheap listing, and building every component."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
from measures_testutils import make_generator

from infd_core.plugins import InfdPluginManager
from infd_measures import (
    ComponentPrior,
    ComponentwiseSchedule,
    DiscreteSchedule,
    GaussianProcess,
    MollifiedNoise,
)
from infd_measures.bases import FFTBasis, HaarBasis, PCABasis, PixelBasis

EXPECTED = {
    "schedules": {"linear", "cosine", "vp-sde", "linear-soft", "columnwise", "haar-columnwise"},
    "measures": {"white", "mollified", "gp"},
    "bases": {"pixel", "pca", "fft", "haar"},
}


@pytest.fixture(scope="module")
def registry():
    manager = InfdPluginManager()
    assert not [f for f in manager.failures if f.name == "measures"]
    return manager.registry()


def test_all_components_are_registered(registry) -> None:
    for kind, names in EXPECTED.items():
        assert names <= set(registry.names(kind)), kind
        for name in names:
            spec = registry.get(kind, name)
            assert spec.distribution == "infd-measures"
            assert spec.description


def test_listing_imports_no_torch_modules_of_ours() -> None:
    code = textwrap.dedent(
        """
        import sys
        from infd_core.plugins import InfdPluginManager
        registry = InfdPluginManager().registry()
        assert "gp" in registry.names("measures")
        for kind in ("schedules", "measures", "bases"):
            for spec in registry.specs(kind):
                spec.config_model()  # configs are light too
        ours = sorted(m for m in sys.modules if m.startswith("infd_measures"))
        print(",".join(ours))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(result.stdout.strip().split(","))
    assert loaded <= {"infd_measures", "infd_measures.plugin", "infd_measures.configs"}, loaded


def test_build_every_component(registry) -> None:
    assert isinstance(registry.get("schedules", "linear").build({}), DiscreteSchedule)
    assert registry.get("schedules", "cosine").build({"num_steps": None}).alpha(0.5).item() > 0
    assert registry.get("schedules", "vp-sde").build({}).beta(1.0).item() == pytest.approx(20.0)
    measure = registry.get("measures", "mollified").build({"grid_shape": (8, 8), "variance": 2.0})
    assert isinstance(measure, MollifiedNoise)
    assert measure.mollifier.variance == 2.0
    assert isinstance(registry.get("measures", "gp").build({"kernel": "matern52"}), GaussianProcess)
    white = registry.get("measures", "white").build({})
    assert white.sample(torch.zeros(5, 2), make_generator()).shape == (5, 1)
    data = torch.randn(40, 3, 8, 8, generator=make_generator(), dtype=torch.float64)
    bases = {
        "pixel": registry.get("bases", "pixel").build({"shape": (8, 8)}),
        "fft": registry.get("bases", "fft").build({"shape": (8, 8)}),
        "haar": registry.get("bases", "haar").build({"shape": (8, 8), "levels": 2}),
        "pca": registry.get("bases", "pca").build({}, data=data),
    }
    for cls, basis in zip((PixelBasis, FFTBasis, HaarBasis, PCABasis), bases.values(), strict=True):
        assert isinstance(basis, cls)
    pairs = (("fft", "linear-soft"), ("pixel", "columnwise"), ("haar", "haar-columnwise"))
    for basis_name, schedule_name in pairs:
        prior = ComponentPrior.fit(bases[basis_name], data, "data")
        schedule = registry.get("schedules", schedule_name).build({}, prior=prior)
        assert isinstance(schedule, ComponentwiseSchedule)
        assert schedule.num_components == 64
    fft_prior = ComponentPrior.fit(bases["fft"], data)
    soft = registry.get("schedules", "linear-soft").build({"ordering_r": 0.5}, prior=fft_prior)
    assert soft.gamma(0.3).shape == (64,)


def test_config_errors_are_clear(registry) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="softness"):
        registry.get("schedules", "linear-soft").build({"softness": -1.0})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        registry.get("measures", "gp").build({"lengthscale": 0.1})
    with pytest.raises(ValidationError, match="length_scale"):
        registry.get("measures", "gp").build({"length_scale": -0.1})
    from infd_measures import ParameterError

    with pytest.raises(ParameterError, match=r"prior=\.\.\."):
        registry.get("schedules", "columnwise").build({})
    with pytest.raises(ParameterError, match="data=tensor"):
        registry.get("bases", "pca").build({})
