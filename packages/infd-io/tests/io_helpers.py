"""Shared test helpers: synthetic tiles, an independent pyramid reference, store comparison, schemas."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

SCHEMAS = Path(__file__).parent / "schemas"


def pattern(
    rows: tuple[int, int], cols: tuple[int, int], channels: int = 3, dtype: str = "uint8"
) -> np.ndarray:
    """A deterministic, non-linear test image evaluated on a window (the same pixels whatever the tiling).

    Pixel (c, y, x) is ``(3y + 5x + (y // 7)(x // 13) + 67c) mod 256``, computed with uint8 wrap-around.
    """
    y = np.arange(*rows, dtype=np.int64)
    x = np.arange(*cols, dtype=np.int64)
    ramp = ((3 * y) % 256).astype(np.uint8)[:, None] + ((5 * x) % 256).astype(np.uint8)[None, :]
    product = ((y // 7) % 256).astype(np.uint8)[:, None] * ((x // 13) % 256).astype(np.uint8)[None, :]
    base = ramp + product
    block = np.stack([base + np.uint8((67 * c) % 256) for c in range(channels)])
    if dtype == "float32":
        return (block.astype(np.float32) / 255.0) ** 2
    return block


def reference_downsample(block: np.ndarray) -> np.ndarray:
    """2×2 mean computed independently: each output pixel averages its four sources, indices clamped."""
    _, height, width = block.shape
    out_h, out_w = -(-height // 2), -(-width // 2)
    ys = np.minimum(np.stack([2 * np.arange(out_h), 2 * np.arange(out_h) + 1]), height - 1)
    xs = np.minimum(np.stack([2 * np.arange(out_w), 2 * np.arange(out_w) + 1]), width - 1)
    if block.dtype == np.uint8:
        total = sum(block[:, ys[a]][:, :, xs[b]].astype(np.int64) for a in (0, 1) for b in (0, 1))
        return ((total + 2) // 4).astype(np.uint8)
    parts = [block[:, ys[a]][:, :, xs[b]] for a in (0, 1) for b in (0, 1)]
    return (((parts[0] + parts[1]) + (parts[2] + parts[3])) * np.float32(0.25)).astype(np.float32)


def reference_level(block: np.ndarray, level: int) -> np.ndarray:
    for _ in range(level):
        block = reference_downsample(block)
    return block


def store_files(root: str | os.PathLike[str], exclude_record: bool = False) -> dict[str, bytes]:
    """Every file of a local store, by relative path (optionally without the completion record)."""
    root = Path(root)
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            relative = path.relative_to(root).as_posix()
            if exclude_record and relative.startswith("infd_tiles/"):
                continue
            files[relative] = path.read_bytes()
    return files


def ngff_validator(version: str):
    """A jsonschema validator for OME-NGFF ``version`` image metadata, resolved offline."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    def load(name: str) -> dict:
        return json.loads((SCHEMAS / name).read_text())

    registry = Registry()
    if version == "0.5":
        version_schema = load("ngff-0.5-_version.schema")
        registry = registry.with_resource(
            "https://ngff.openmicroscopy.org/0.5/schemas/_version.schema",
            Resource.from_contents(version_schema),
        )
    schema = load(f"ngff-{version}-image.schema")
    return Draft202012Validator(schema, registry=registry)


def append_event_line(path: str, event) -> None:  # type: ignore[no-untyped-def]
    """Append one tile event as a JSON line (a single write, so concurrent processes do not interleave)."""
    line = json.dumps({"level": event.level, "index": list(event.index), "pid": os.getpid()}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_events(path: str | os.PathLike[str]) -> list[tuple[int, tuple[int, int]]]:
    if not Path(path).exists():
        return []
    lines = Path(path).read_text().splitlines()
    return [(e["level"], tuple(e["index"])) for e in map(json.loads, lines)]
