"""Versions of the installed infd distributions, torch and the default device (``infd --version``)."""

from __future__ import annotations

import platform
from importlib import metadata


def installed_versions() -> dict[str, str]:
    """Versions of the installed infd distributions, recorded in every checkpoint."""
    versions = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.lower().startswith("infd"):
            versions[name] = dist.version
    return dict(sorted(versions.items()))


def device_summary() -> str:
    """The device ``auto`` picks here, e.g. ``cpu (no CUDA device)`` or ``cuda:0 (NVIDIA H100, 1 of 1)``."""
    import torch  # deferred: only --version and runs need it

    if not torch.cuda.is_available():
        return "cpu (no CUDA device)"
    count = torch.cuda.device_count()
    return f"cuda:0 ({torch.cuda.get_device_name(0)}, {count} CUDA device{'s' if count > 1 else ''})"


def version_report() -> list[str]:
    """One line per infd distribution, then torch (with its CUDA build), the device and Python."""
    lines = [f"{name} {version}" for name, version in installed_versions().items()]
    try:
        import torch
    except ImportError:
        lines.append("torch: not installed")
        return [*lines, f"python {platform.python_version()}"]
    cuda = f", CUDA {torch.version.cuda}" if torch.version.cuda else ""
    lines.append(f"torch {torch.__version__}{cuda}")
    lines.append(f"device: {device_summary()}")
    lines.append(f"python {platform.python_version()}")
    return lines


__all__ = ["device_summary", "installed_versions", "version_report"]
