"""Provenance: a fingerprint of everything that determines an output's bytes.

A fingerprint is a JSON mapping (pipeline, checkpoint digest, resolved config, seed, size, versions).
Every output location keeps the fingerprint of the run that made it (:mod:`infd_core.output_claims`);
a later run that writes there with a different fingerprint is refused, naming the keys that differ,
so two runs' tiles or files are never mixed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from infd_core.errors import UsageError
from infd_core.outputs import filesystem
from infd_core.versions import installed_versions

_READ_BLOCK = 1 << 22


class OutputConflictError(UsageError):
    """An output location holds what another run (other settings) wrote, or is being written now."""


def versions_fingerprint(distributions: Iterable[str] = ("infd-core",)) -> dict[str, str]:
    """The versions of ``distributions`` (e.g. infd-core and the pipeline's) and of torch: the code
    whose arithmetic produced an output (other installed plugins do not matter)."""
    installed = installed_versions()
    versions = {name: installed.get(name, "unknown") for name in distributions}
    try:
        import torch

        versions["torch"] = str(torch.__version__)
    except ImportError:  # pragma: no cover - infd-core without torch
        pass
    return dict(sorted(versions.items()))


def checkpoint_digest(url: str) -> str:
    """``sha256:...`` over a checkpoint folder's ``config.json`` and every file it lists (streamed)."""
    from infd_core.checkpoints import CONFIG_FILE, read_checkpoint_header

    header = read_checkpoint_header(url, verify_files=False)
    fs, path = filesystem(url)
    digest = hashlib.sha256()
    for name in [CONFIG_FILE, *sorted(header["files"])]:
        digest.update(name.encode() + b"\0")
        with fs.open(f"{path.rstrip('/')}/{name}", "rb") as handle:
            while block := handle.read(_READ_BLOCK):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


def tensors_digest(tensors: Mapping[str, Any]) -> str:
    """``sha256:...`` over named tensors (names, dtypes, shapes and bytes), e.g. a feature map."""
    import torch  # deferred: infd-core's config commands import no torch

    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())  # any dtype, bfloat16 too
    return "sha256:" + digest.hexdigest()


def json_ready(value: Any) -> Any:
    """A JSON round trip (tuples become lists, keys strings), so stored and fresh fingerprints compare."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, default=str)
    if isinstance(value, str) and value.startswith("sha256:"):
        text = value[:19] + "…"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def differences(
    stored: Mapping[str, Any], wanted: Mapping[str, Any], ignore: Iterable[str] = ()
) -> list[str]:
    """``key (old → new)`` for every dotted key whose value differs; ``ignore`` lists key prefixes."""
    old, new = _flatten(json_ready(stored)), _flatten(json_ready(wanted))
    skipped = tuple(ignore)
    found = []
    for key in sorted(set(old) | set(new)):
        if any(key == p or key.startswith(p + ".") for p in skipped):
            continue
        if old.get(key, "<unset>") != new.get(key, "<unset>"):
            found.append(f"{key} ({_short(old.get(key, '<unset>'))} → {_short(new.get(key, '<unset>'))})")
    return found


def describe_differences(found: list[str], limit: int = 4) -> str:
    """The first few differences on one line (``a (0 → 1); b (x → y); and 3 more``)."""
    head = "; ".join(found[:limit])
    return head + (f"; and {len(found) - limit} more" if len(found) > limit else "")
