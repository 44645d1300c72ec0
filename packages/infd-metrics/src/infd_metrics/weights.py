"""Reading user-supplied weight files (local paths or fsspec URLs) without downloading or unpickling.

Nothing here fetches weights from the internet on its own: a missing file is a
:class:`~infd_core.errors.ConfigError` that says where such weights come from and how to pass them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
from typing import Any

from infd_core.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class WeightFile:
    """The bytes of a weight file, where they came from, and their SHA-256 (used in cache keys)."""

    url: str
    data: bytes
    sha256: str


def read_weight_file(url: str | None, what: str, how_to: str) -> WeightFile:
    """Read ``url`` whole; ``what`` names the weights and ``how_to`` tells how to obtain them."""
    from infd_core.outputs import filesystem

    if not url:
        raise ConfigError(f"no {what} weights given. {how_to}")
    try:
        fs, path = filesystem(str(url))
        data = fs.cat_file(path)
    except (FileNotFoundError, IsADirectoryError):
        raise ConfigError(f"{what} weights not found at {url}. {how_to}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} weights at {url}: {exc.strerror or exc}. {how_to}") from None
    except Exception as exc:  # fsspec backends raise their own errors for bad URLs
        raise ConfigError(f"cannot read {what} weights at {url}: {exc}. {how_to}") from None
    logger.info("read %s weights from %s (%.1f MB)", what, url, len(data) / 2**20)
    return WeightFile(str(url), data, hashlib.sha256(data).hexdigest())


def load_state_dict(weights: WeightFile, what: str) -> dict[str, Any]:
    """A state dict from safetensors, or from a torch file read with ``weights_only=True``.

    A torch file holding ``{"state_dict": ...}`` (open_clip training checkpoints) is unwrapped, and a
    ``module.`` prefix (DataParallel) is removed.
    """
    import torch

    if weights.data[:2] == b"PK" or not _looks_like_safetensors(weights.data):
        try:
            state = torch.load(io.BytesIO(weights.data), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ConfigError(
                f"{weights.url}: cannot load {what} weights safely ({type(exc).__name__}: {exc}); "
                "give a .safetensors file, or a torch state dict that loads with weights_only=True "
                "(TorchScript and pickled models are refused)"
            ) from None
    else:
        from safetensors import SafetensorError
        from safetensors.torch import load

        try:
            state = load(weights.data)
        except SafetensorError as exc:
            raise ConfigError(f"{weights.url}: corrupt safetensors file: {exc}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"{weights.url}: {what} weights must be a mapping of names to tensors")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def state_digest(state: dict[str, Any]) -> str:
    """SHA-256 of a state dict's names, dtypes, shapes and values (independent of the file format)."""
    import torch

    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        if tensor.numel():
            digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _looks_like_safetensors(data: bytes) -> bool:
    if len(data) < 10:
        return False
    length = int.from_bytes(data[:8], "little")
    return 0 < length <= len(data) - 8 and data[8:9] == b"{"


def check_keys(model: Any, state: dict[str, Any], where: str, what: str) -> None:
    """Load ``state`` into ``model`` strictly; a mismatch names a few missing/unexpected keys."""
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        first = str(exc).strip().splitlines()[-1].strip()
        raise ConfigError(
            f"{where}: these {what} weights do not fit the configured architecture ({first}); "
            "check the model name / model_config"
        ) from None
    if result.missing_keys or result.unexpected_keys:
        missing = ", ".join(result.missing_keys[:5])
        unexpected = ", ".join(result.unexpected_keys[:5])
        raise ConfigError(
            f"{where}: these {what} weights do not fit the configured architecture "
            f"({len(result.missing_keys)} missing keys: {missing or '-'}; "
            f"{len(result.unexpected_keys)} unexpected keys: {unexpected or '-'}); "
            "check the model name / model_config"
        )
