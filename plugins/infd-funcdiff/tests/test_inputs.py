from __future__ import annotations

import numpy as np
import pydantic
import pytest
import torch

from infd_core.errors import UsageError
from infd_funcdiff.config import FuncDiffConfig, NoiseConfig
from infd_funcdiff.curves import Curves, check_points
from infd_funcdiff.errors import FuncDiffInputError
from infd_funcdiff.fno import FNO1d
from infd_funcdiff.pipeline import build_gp
from infd_funcdiff.sampling import Observations


def test_unsorted_and_duplicate_coordinates_are_refused():
    with pytest.raises(FuncDiffInputError, match="sorted"):
        check_points(torch.tensor([0.0, 0.5, 0.2]))
    with pytest.raises(FuncDiffInputError, match=r"duplicate coordinate 0\.5"):
        Curves([torch.tensor([0.0, 0.5, 0.5])], [torch.zeros(3)])
    with pytest.raises(FuncDiffInputError, match="sorted"):
        Observations(torch.tensor([0.3, 0.1]), torch.zeros(2))


def test_nan_curve_is_refused():
    with pytest.raises(FuncDiffInputError, match="curve 1 values: contain NaN"):
        Curves([torch.linspace(0, 1, 4)] * 2, [torch.zeros(4), torch.tensor([0.0, float("nan"), 0, 0])])
    with pytest.raises(FuncDiffInputError, match="NaN"):
        check_points(torch.tensor([0.0, float("nan")]))


def test_nan_in_a_user_file_is_refused(tmp_path):
    path = tmp_path / "curves.npz"
    y = np.zeros((3, 5))
    y[2, 1] = np.nan
    np.savez(path, x=np.linspace(0, 1, 5), y=y)
    config = FuncDiffConfig.model_validate({"data": {"kind": "file", "file": {"path": str(path)}}})
    from infd_funcdiff.datasets import build_curves

    with pytest.raises(UsageError, match="curve 2 values: contain NaN"):
        build_curves(config.data)


@pytest.mark.parametrize("field", ["variance", "length_scale"])
@pytest.mark.parametrize("value", [0.0, -1.0])
def test_kernel_parameters_must_be_positive(field, value):
    with pytest.raises(pydantic.ValidationError, match=field):
        FuncDiffConfig.model_validate({"noise": {field: value}})
    bad = NoiseConfig.model_construct(kernel="matern32", variance=1.0, length_scale=0.1, jitter=1e-6)
    object.__setattr__(bad, field, value)
    with pytest.raises(UsageError, match=field):
        build_gp(bad)


def test_fno_refuses_irregular_points():
    model = FNO1d(8, 4, 1, 8)
    x = torch.tensor([0.0, 0.1, 0.5, 0.6, 1.0])[:, None]
    with pytest.raises(FuncDiffInputError, match="regular grid"):
        model(torch.zeros(2, 5, 1), torch.zeros(2), coords=x)
