"""On a CUDA device (``pytest -m gpu``): the tiny test run trains and samples with ``device: cuda``."""

from __future__ import annotations

import pytest
import torch

from infd_core.cuda_runs import run_on_cuda

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_train_and_sample_on_cuda(tmp_path):
    from gud_helpers import tiny_config

    run_on_cuda({"pipeline": "gud", "config": tiny_config(), "sample": {"num_samples": 2}}, tmp_path)
