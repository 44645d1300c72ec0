"""Device choice: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from infd_core.errors import DeviceError

if TYPE_CHECKING:
    import torch

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def validate_device_name(name: str) -> str:
    """Check the spelling of a device name (not its availability)."""
    if not DEVICE_PATTERN.match(name):
        raise DeviceError(f"device {name!r} is not one of: auto, cpu, cuda, cuda:N")
    return name


def resolve_device(name: str = "auto", *, local_rank: int | None = None) -> torch.device:
    """The torch device for ``name``; ``auto`` and ``cuda`` pick the local rank's GPU (``local_rank``,
    default torchrun's ``LOCAL_RANK``, so the ranks on one node take different GPUs)."""
    import torch  # deferred: config validation (which checks device names) must not import torch

    if local_rank is None:
        local_rank = int(os.environ.get("LOCAL_RANK", 0))

    validate_device_name(name)
    if name == "cpu":
        return torch.device("cpu")
    available = torch.cuda.is_available()
    if name == "auto":
        if not available:
            return torch.device("cpu")
        index = (local_rank or 0) % torch.cuda.device_count()
        return torch.device("cuda", index)
    if not available:
        raise DeviceError(f"device {name!r} was requested but CUDA is not available on this machine")
    index = int(name.split(":")[1]) if ":" in name else (local_rank or 0) % torch.cuda.device_count()
    if index >= torch.cuda.device_count():
        raise DeviceError(
            f"device {name!r} was requested but only {torch.cuda.device_count()} CUDA device(s) exist"
        )
    return torch.device("cuda", index)
