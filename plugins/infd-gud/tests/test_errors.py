"""Bad input gives clear errors: unfitted basis, parameters out of range, strip step k >= width."""

from __future__ import annotations

import pytest
import torch
from gud_helpers import build_pipeline, registry, tiny_config
from pydantic import ValidationError

from infd_core.config import resolve_run_config
from infd_core.errors import ConfigError, UsageError
from infd_gud.config import BasisSettings, GudConfig, PriorSettings, ScheduleSettings
from infd_gud.errors import BasisNotFittedError, GudUsageError
from infd_gud.space import ComponentSpace


def test_basis_not_fitted(tmp_path) -> None:
    space = ComponentSpace(
        BasisSettings(name="pca"), PriorSettings(), ScheduleSettings(), (8, 8), 3, registry()
    )
    with pytest.raises(BasisNotFittedError, match="not fitted"):
        space.encode(torch.zeros(1, 3, 8, 8))
    with pytest.raises(BasisNotFittedError, match="not fitted"):
        space.schedule()
    pipeline = build_pipeline(str(tmp_path / "run"))
    with pytest.raises(BasisNotFittedError) as info:
        pipeline.sample(str(tmp_path / "samples"))
    assert isinstance(info.value, UsageError) and isinstance(info.value, ValueError)
    assert not (tmp_path / "samples").exists()


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"name": "columnwise", "b": 1.0}, "less than 1"),
        ({"name": "linear-soft", "softness": 0.0}, "greater than 0"),
        ({"name": "linear-soft", "softness_range": [2.0, 1.0]}, "softness_range"),
        ({"name": "haar-columnwise", "a_range": [0.1, 1.2]}, "a_range/b_range"),
        ({"name": "linear-soft", "ordering_r": 1.5}, "less than or equal to 1"),
    ],
)
def test_schedule_parameters_out_of_range_in_config(schedule: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        GudConfig.model_validate({"schedule": schedule, "basis": {"name": "haar"}})


def test_strip_step_must_be_below_training_width() -> None:
    config = tiny_config(basis={"name": "pixel"}, schedule={"name": "columnwise"},
                         extension={"enabled": True, "columns": 16})  # fmt: skip
    with pytest.raises(ValidationError, match=r"strip step k = 16\) must be < the training width 16"):
        GudConfig.model_validate(config)
    run = {"pipeline": "gud", "output": "x", "config": config}
    with pytest.raises(ConfigError, match="strip step"):
        resolve_run_config(run, registry())


def test_each_extension_setting_is_checked_only_where_it_is_used() -> None:
    columnwise = {"basis": {"name": "pixel"}, "schedule": {"name": "columnwise"}, "data": {"resolution": 8}}
    # the strip step is unused by completion, the completion's columns by strips
    for extension in (
        {"completion": True, "columns": 8, "given_columns": 3},
        {"enabled": True, "columns": 4, "given_columns": 8},
    ):
        GudConfig.model_validate({**columnwise, "extension": extension})
    with pytest.raises(ValidationError, match="given_columns must be < the training width 8"):
        GudConfig.model_validate({**columnwise, "extension": {"completion": True, "given_columns": 8}})


def test_schedule_basis_mismatch() -> None:
    with pytest.raises(ValidationError, match=r"columnwise schedule needs basis\.name: pixel"):
        GudConfig.model_validate({"schedule": {"name": "columnwise"}, "basis": {"name": "fft"}})


def test_stream_strip_rejects_large_step(tmp_path) -> None:
    from infd_gud.extension import stream_strip

    pipeline = build_pipeline(str(tmp_path / "run"), basis={"name": "pixel"}, schedule={"name": "columnwise"},
                              training={"steps": 0}, data={"resolution": 8, "fit_items": 16})  # fmt: skip
    pipeline.train()
    with pytest.raises(GudUsageError, match="strip step k=8 must be >= 1 and < the training width 8"):
        stream_strip(pipeline.model(), pipeline.space, pipeline.space.schedule(), str(tmp_path / "s.zarr"),
                     width=64, columns=8, steps_per_window=1, generator=torch.Generator())  # fmt: skip
    with pytest.raises(GudUsageError, match=r"sample\.size"):
        pipeline.context.run.sample.size = [4, 64]
        pipeline.sample(str(tmp_path / "samples"))
