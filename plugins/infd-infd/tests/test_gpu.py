"""On a CUDA device (``pytest -m gpu``): the tiny test run trains and samples with ``device: cuda``."""

from __future__ import annotations

import pytest
import torch

from infd_core.cuda_runs import run_on_cuda

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_train_and_sample_on_cuda(tmp_path):
    from helpers import tiny_config

    config = tiny_config(optim={"steps": 10}, latent={"steps": 10})
    run_on_cuda({"pipeline": "infd", "seed": 3, "config": config, "sample": {"num_samples": 1}}, tmp_path)
