"""Checkpoints: a folder (local path or fsspec URL) with ``config.json`` and ``*.safetensors``.

Nothing is ever unpickled. Local writes go to a temporary sibling folder that is renamed into place;
remote writes put every tensor file first and ``config.json`` (the commit record) last.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from infd_core.checkpoint_files import (
    CONFIG_FILE,
    FORMAT,
    FORMAT_VERSION,
    read_checkpoint_header,
    read_errors,
    read_safetensors,
)
from infd_core.errors import CheckpointError, CheckpointMismatchError, OutputError
from infd_core.outputs import filesystem, is_local, write_bytes_atomic, write_file_synced
from infd_core.versions import installed_versions


@dataclasses.dataclass
class Checkpoint:
    """A loaded checkpoint: its ``config.json`` content and one state dict per safetensors file."""

    url: str
    config: dict[str, Any]
    meta: dict[str, Any]
    tensors: dict[str, dict[str, torch.Tensor]]
    versions: dict[str, str] = dataclasses.field(default_factory=dict)  # the infd versions that wrote it

    def state(self, name: str = "model") -> dict[str, torch.Tensor]:
        """The tensors of ``<name>.safetensors``."""
        if name not in self.tensors:
            have = ", ".join(sorted(self.tensors)) or "none"
            raise CheckpointError(f"{self.url}: no {name}.safetensors in this checkpoint (has: {have})")
        return self.tensors[name]

    def state_like(
        self, name: str, reference: Mapping[str, torch.Tensor], device: str | torch.device | None = None
    ) -> dict[str, torch.Tensor]:
        """The tensors of ``<name>.safetensors`` checked against ``reference`` (e.g. the model's
        ``state_dict()``, for an EMA copy of it): the same keys and shapes, cast to the reference's dtype
        and moved to ``device``. A part that does not fit is a CheckpointMismatchError."""
        state = self.state(name)
        missing, unexpected = sorted(set(reference) - set(state)), sorted(set(state) - set(reference))
        if missing or unexpected:
            raise CheckpointMismatchError(
                f"{self.url}: {name}.safetensors does not fit the model (missing: {_names(missing)}; "
                f"unexpected: {_names(unexpected)})"
            )
        for key, value in state.items():
            if value.shape != reference[key].shape:
                raise CheckpointMismatchError(
                    f"{self.url}: {name}.safetensors does not fit the model: {key} has shape "
                    f"{list(value.shape)}, the model's {list(reference[key].shape)}"
                )
        return {k: v.to(device or reference[k].device, reference[k].dtype) for k, v in state.items()}


def _names(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")
    return shown or "none"


def save_checkpoint(
    url: str,
    config: Mapping[str, Any],
    tensors: Mapping[str, Mapping[str, torch.Tensor]],
    meta: Mapping[str, Any] | None = None,
    versions: Mapping[str, str] | None = None,
) -> str:
    """Write ``config`` (JSON-ready) and each state dict as ``<name>.safetensors`` under ``url``;
    ``versions`` (default: the installed infd distributions) records what wrote the weights."""
    files = {}
    for name, state in tensors.items():
        if not name or "/" in name or name.startswith("."):
            raise CheckpointError(f"invalid state name {name!r}")
        files[f"{name}.safetensors"] = safetensors.torch.save(_plain_tensors(name, state))
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": dict(installed_versions() if versions is None else versions),
        "files": sorted(files),
        "config": dict(config),
        "meta": dict(meta or {}),
    }
    try:
        files[CONFIG_FILE] = json.dumps(header, indent=2, sort_keys=True).encode()
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint config is not JSON serialisable: {exc}") from None
    fs, path = filesystem(url)
    if is_local(fs):
        _write_local_folder(Path(path), files)
    else:
        fs.makedirs(path, exist_ok=True)
        for name in sorted(files, key=lambda n: n == CONFIG_FILE):  # config.json last
            write_bytes_atomic(f"{url.rstrip('/')}/{name}", files[name])
    return url


def _plain_tensors(name: str, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    plain = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{name}[{key!r}] is a {type(value).__name__}, not a tensor")
        plain[key] = value.detach().to("cpu").contiguous().clone()  # clone: tied weights share storage
    return plain


def _write_local_folder(target: Path, files: Mapping[str, bytes]) -> None:
    target = target.absolute()
    tag = uuid.uuid4().hex[:12]
    tmp = target.with_name(f".{target.name}.tmp-{tag}")
    old = target.with_name(f".{target.name}.old-{tag}")
    try:
        if target.exists() and not target.is_dir():
            raise OutputError(f"{target}: exists and is not a folder")
        tmp.mkdir(parents=True)
        for name, data in files.items():
            write_file_synced(tmp / name, data)
        if target.exists():
            target.rename(old)
        tmp.rename(target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not target.exists():
            old.rename(target)
        raise OutputError(f"{target}: cannot write checkpoint: {exc.strerror or exc}") from None
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(
    url: str, names: list[str] | None = None, device: str | torch.device = "cpu"
) -> Checkpoint:
    """Read a checkpoint folder; refuses pickles, anything that is not safetensors and any part whose
    size does not match its header (reads are bounded by the header)."""
    header = read_checkpoint_header(url, verify_files=False)
    fs, path = filesystem(url)
    wanted = header["files"] if names is None else [f"{n}.safetensors" for n in names]
    tensors = {}
    for file_name in wanted:
        if file_name not in header["files"]:
            raise CheckpointError(f"{url}: {file_name} is missing from the checkpoint")
        label = f"{url.rstrip('/')}/{file_name}"
        with read_errors(label):
            _, data = read_safetensors(fs, f"{path.rstrip('/')}/{file_name}", label, with_data=True)
        try:
            state = safetensors.torch.load(data)
        except Exception as exc:  # safetensors raises its own error types for bad headers
            raise CheckpointError(
                f"{label}: cannot be read as safetensors ({exc}); infd never unpickles checkpoint files"
            ) from None
        tensors[file_name.removesuffix(".safetensors")] = {k: v.to(device) for k, v in state.items()}
    return Checkpoint(
        url=url,
        config=header["config"],
        meta=header["meta"],
        tensors=tensors,
        versions=header["versions"],
    )


def flatten_state(obj: Any, prefix: str = "") -> tuple[dict[str, torch.Tensor], Any]:
    """Split a nested state (e.g. an optimizer's) into tensors and a JSON tree referring to them."""
    tensors: dict[str, torch.Tensor] = {}

    def encode(value: Any, key: str) -> Any:
        if isinstance(value, torch.Tensor):
            tensors[key] = value
            return {"__tensor__": key}
        if isinstance(value, Mapping):
            return {"__map__": [[k, encode(v, f"{key}.{k}")] for k, v in value.items()]}
        if isinstance(value, (list, tuple)):
            items = [encode(v, f"{key}.{i}") for i, v in enumerate(value)]
            return items if isinstance(value, list) else {"__tuple__": items}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise CheckpointError(f"cannot store {key or 'state'} of type {type(value).__name__}")

    return tensors, encode(obj, prefix or "state")


def unflatten_state(tensors: Mapping[str, torch.Tensor], tree: Any) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(tree, list):
        return [unflatten_state(tensors, v) for v in tree]
    if isinstance(tree, dict):
        if "__tensor__" in tree:
            key = tree["__tensor__"]
            if key not in tensors:
                raise CheckpointError(f"checkpoint state refers to a missing tensor {key!r}")
            return tensors[key]
        if "__tuple__" in tree:
            return tuple(unflatten_state(tensors, v) for v in tree["__tuple__"])
        if "__map__" in tree:
            return {k: unflatten_state(tensors, v) for k, v in tree["__map__"]}
    return tree


def optimizer_state(optimizer: torch.optim.Optimizer, name: str) -> tuple[dict[str, torch.Tensor], Any]:
    """An optimizer's state for a checkpoint: its tensors (a part called ``name``) and the JSON tree that
    goes into the checkpoint's meta under ``name``; :func:`restore_optimizer` reads both back."""
    return flatten_state(optimizer.state_dict(), name)


def restore_optimizer(checkpoint: Checkpoint, name: str, optimizer: torch.optim.Optimizer) -> bool:
    """Load the state :func:`optimizer_state` saved under ``name``; False when the checkpoint has none
    (an older checkpoint: the optimizer starts afresh)."""
    if name not in checkpoint.tensors:
        return False
    if checkpoint.meta.get(name) is None:
        raise CheckpointError(f"{checkpoint.url}: {name} tensors without their structure")
    optimizer.load_state_dict(unflatten_state(checkpoint.state(name), checkpoint.meta[name]))
    return True
