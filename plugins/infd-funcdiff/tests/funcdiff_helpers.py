"""Shared helpers of the infd-funcdiff tests."""

from __future__ import annotations

from typing import Any

import torch

from infd_core.config import RunConfig
from infd_core.distributed import DistInfo
from infd_core.pipeline import RunContext
from infd_funcdiff.config import FuncDiffConfig
from infd_funcdiff.pipeline import FuncDiffPipeline


class SilentHooks:
    def __getattr__(self, name: str) -> Any:
        return lambda **kwargs: None


def make_pipeline(config: dict[str, Any], output: str, seed: int = 0) -> FuncDiffPipeline:
    run = RunConfig(pipeline="funcdiff", output=output, seed=seed)
    context = RunContext(run, torch.device("cpu"), DistInfo(), None, SilentHooks())  # type: ignore[arg-type]
    return FuncDiffPipeline(FuncDiffConfig.model_validate(config), context)
