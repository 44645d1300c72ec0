"""On a CUDA device (``pytest -m gpu``): the tiny test run trains and samples with ``device: cuda``."""

from __future__ import annotations

import pytest
import torch

from infd_core.cuda_runs import run_on_cuda

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_train_and_sample_on_cuda(tmp_path):
    from gud_helpers import tiny_config

    run_on_cuda({"pipeline": "gud", "config": tiny_config(), "sample": {"num_samples": 2}}, tmp_path)


def test_strip_on_cuda(tmp_path):
    from gud_helpers import tiny_config

    config = tiny_config(
        basis={"name": "pixel"},
        schedule={"name": "columnwise", "b": 0.75},
        extension={"enabled": True, "width": 40, "columns": 4},
        likelihood={"enabled": False},
    )
    output = run_on_cuda({"pipeline": "gud", "config": config}, tmp_path)
    assert (output / "samples" / "strip.png").is_file()
