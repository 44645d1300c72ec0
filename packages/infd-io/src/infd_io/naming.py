"""Names derived from an OME-Zarr store's URL: the image's name and its PNG preview beside it."""

from __future__ import annotations

STORE_SUFFIXES = (".zarr", ".ome")


def _stem(url: str) -> str:
    path = str(url).rstrip("/")
    for suffix in STORE_SUFFIXES:  # ".ome.zarr" -> "", ".zarr" -> ""
        path = path.removesuffix(suffix)
    return path


def store_name(url: str) -> str:
    """The multiscales name of the image stored at ``url``: its last path part without ``.ome.zarr``
    (``runs/samples/sample-003.ome.zarr`` -> ``sample-003``)."""
    return _stem(url).rsplit("/", 1)[-1] or "image"


def preview_path(url: str) -> str:
    """The PNG preview beside the store: ``x.ome.zarr`` and ``x.zarr`` -> ``x.png``."""
    return _stem(url) + ".png"


def sample_store_url(out: str, index: int) -> str:
    """Where sample ``index`` goes: ``out`` itself when it names one ``.zarr`` store, else
    ``out/sample-NNN.ome.zarr``."""
    return out if out.rstrip("/").endswith(".zarr") else f"{out.rstrip('/')}/sample-{index:03d}.ome.zarr"


def sampling_state_url(store_url: str) -> str:
    """Where the out-of-core sampling state of the image bound for ``store_url`` lives: beside it,
    ``x.ome.zarr`` → ``x.state`` (a batch's state is named after its first image)."""
    base = store_url.rstrip("/")
    for suffix in (".ome.zarr", ".zarr"):
        if base.endswith(suffix):
            return base[: -len(suffix)] + ".state"
    return base + ".state"


__all__ = ["preview_path", "sample_store_url", "sampling_state_url", "store_name"]
