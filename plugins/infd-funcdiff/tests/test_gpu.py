"""On a CUDA device (``pytest -m gpu``): the tiny test run trains and samples with ``device: cuda``."""

from __future__ import annotations

import pytest
import torch

from infd_core.cuda_runs import run_on_cuda

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_train_and_sample_on_cuda(tmp_path):
    config = {
        "data": {"kind": "mogp", "mogp": {"num_curves": 32, "num_points": 32}},
        "model": {"kind": "fno", "fno": {"width": 8, "modes": 4, "layers": 2, "projection": 16}},
        "train": {"steps": 20, "batch_size": 8},
        "sampling": {"steps": 10},
    }
    run_on_cuda({"pipeline": "funcdiff", "config": config, "sample": {"num_samples": 8}}, tmp_path)
