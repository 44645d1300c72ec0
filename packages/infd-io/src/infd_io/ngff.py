"""OME-NGFF multiscale image metadata (versions 0.4 and 0.5) for (c, y, x) pyramids.

Level ``l`` has scale ``2**l`` on y and x; its pixel centres sit at ``(2**l - 1) / 2`` in level-0
pixels, because each level is a 2×2 mean of the one above (a translation after the scale says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NGFF_VERSIONS = ("0.4", "0.5")
ZARR_FORMAT = {"0.4": 2, "0.5": 3}
AXES = ("c", "y", "x")

_DEFAULT_CHANNELS = {
    1: (("gray", "FFFFFF"),),
    3: (("red", "FF0000"), ("green", "00FF00"), ("blue", "0000FF")),
}
_CYCLE_COLOURS = ("FF0000", "00FF00", "0000FF", "FF00FF", "00FFFF", "FFFF00", "FFFFFF")


def default_channels(count: int) -> list[tuple[str, str]]:
    """(label, hex colour) per channel: RGB for 3 channels, white for 1, a colour cycle otherwise."""
    if count in _DEFAULT_CHANNELS:
        return list(_DEFAULT_CHANNELS[count])
    return [(f"c{k}", _CYCLE_COLOURS[k % len(_CYCLE_COLOURS)]) for k in range(count)]


def level_transforms(level: int) -> list[dict[str, Any]]:
    """The scale (then translation) of one pyramid level, in level-0 pixels."""
    factor = float(2**level)
    transforms: list[dict[str, Any]] = [{"type": "scale", "scale": [1.0, factor, factor]}]
    if level > 0:
        offset = (factor - 1.0) / 2.0
        transforms.append({"type": "translation", "translation": [0.0, offset, offset]})
    return transforms


def multiscale(name: str, levels: int, version: str) -> dict[str, Any]:
    """One entry of ``multiscales``: axes (c, y, x) and the datasets ``0 .. levels-1``."""
    entry: dict[str, Any] = {
        "name": name,
        "axes": [
            {"name": "c", "type": "channel"},
            {"name": "y", "type": "space"},
            {"name": "x", "type": "space"},
        ],
        "datasets": [
            {"path": str(level), "coordinateTransformations": level_transforms(level)}
            for level in range(levels)
        ],
        "type": "local_mean",
        "metadata": {
            "description": "2x2 mean per level (uint8 rounded half up); odd edges replicate the last pixel",
            "method": "infd_io.downsample.downsample_2x",
        },
    }
    if version == "0.4":
        entry = {"version": "0.4", **entry}
    return entry


def omero(
    channels: Sequence[tuple[str, str]], window: tuple[float, float], limits: tuple[float, float]
) -> dict[str, Any]:
    """``omero`` rendering settings: a label, colour and contrast window per channel."""
    start, end = window
    low, high = limits
    return {
        "channels": [
            {
                "label": label,
                "color": colour,
                "active": True,
                "coefficient": 1.0,
                "family": "linear",
                "inverted": False,
                "window": {"start": start, "end": end, "min": low, "max": high},
            }
            for label, colour in channels
        ],
        "rdefs": {"model": "color" if len(channels) > 1 else "greyscale", "defaultT": 0, "defaultZ": 0},
    }


def image_attributes(
    name: str,
    levels: int,
    version: str,
    channels: Sequence[tuple[str, str]],
    window: tuple[float, float],
    limits: tuple[float, float],
) -> dict[str, Any]:
    """The group attributes of an OME-Zarr image of ``version`` (0.5 nests them under ``ome``)."""
    if version not in NGFF_VERSIONS:
        raise ValueError(f"NGFF version {version!r} is not one of {', '.join(NGFF_VERSIONS)}")
    body = {"multiscales": [multiscale(name, levels, version)], "omero": omero(channels, window, limits)}
    if version == "0.5":
        return {"ome": {"version": "0.5", **body}}
    return body


def read_image_attributes(attributes: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(version, body with ``multiscales``) from group attributes of either version."""
    if isinstance(attributes.get("ome"), dict) and "multiscales" in attributes["ome"]:
        body = attributes["ome"]
        return str(body.get("version", "0.5")), body
    if "multiscales" in attributes:
        return str(attributes["multiscales"][0].get("version", "0.4")), attributes
    raise ValueError("no OME-NGFF multiscales metadata in these attributes")
