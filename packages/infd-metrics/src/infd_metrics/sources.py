"""Image sets a metric reads: tensors, image folders (local or fsspec) and OME-Zarr stores.

Every source yields float RGB images in [0, 1], one at a time, so memory holds one image (or, for
OME-Zarr, one crop) plus a batch. Grey images become RGB by repeating their channel; a set mixing
channel counts is refused (folders: unless ``convert_rgb``), as are values outside [0, 1].
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from infd_core.errors import UsageError
from infd_metrics.crops import CropSampler

logger = logging.getLogger(__name__)


class ImageSource:
    """A sequence of images; subclasses implement ``__len__``, :meth:`image` and :meth:`fingerprint`."""

    label = "images"

    def __len__(self) -> int:
        raise NotImplementedError

    def image(self, index: int, min_side: int | None = None) -> torch.Tensor:
        """Image ``index`` as ``(3, H, W)`` float in [0, 1] (``min_side``: a hint for pyramids)."""
        raise NotImplementedError

    def crops(self, index: int, sampler: CropSampler) -> torch.Tensor:
        """``(k, 3, P, P)`` crops of image ``index``."""
        return sampler.crop(self.image(index), index, f"{self.label} image {index}")

    def fingerprint(self) -> dict[str, Any]:
        raise NotImplementedError


def to_rgb(image: torch.Tensor, where: str) -> torch.Tensor:
    """``(C, H, W)`` → float ``(3, H, W)`` in [0, 1]; uint8 is divided by 255, grey repeated."""
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise UsageError(f"{where}: images must be (C, H, W) with 1 or 3 channels, got {tuple(image.shape)}")
    if image.dtype == torch.uint8:
        image = image.float() / 255.0
    elif image.is_floating_point():
        image = image.float()
        low, high = float(image.min()), float(image.max())
        if low < -1e-3 or high > 1.0 + 1e-3:
            raise UsageError(
                f"{where}: float images must lie in [0, 1], got values in [{low:.3g}, {high:.3g}] "
                "(map [-1, 1] images with (x + 1) / 2)"
            )
        image = image.clamp(0.0, 1.0)
    else:
        raise UsageError(f"{where}: images must be uint8 or float, got {image.dtype}")
    return image.expand(3, -1, -1) if image.shape[0] == 1 else image


def _mixed_channels_error(where: str, examples: dict[int, str], hint: str) -> UsageError:
    found = ", ".join(f"{count} channel(s) (e.g. {name})" for count, name in sorted(examples.items()))
    return UsageError(f"{where}: images of mixed channel counts: {found}; {hint}")


class TensorSource(ImageSource):
    """A ``(N, C, H, W)`` tensor or a list of ``(C, H, W)`` tensors (sizes may differ)."""

    label = "tensor"

    def __init__(self, images: torch.Tensor | Sequence[torch.Tensor]) -> None:
        if isinstance(images, torch.Tensor):
            if images.dim() != 4:
                raise UsageError(f"an image tensor must be (N, C, H, W), got {tuple(images.shape)}")
            items = list(images.unbind(0))
        else:
            items = [t[0] if t.dim() == 4 and t.shape[0] == 1 else t for t in images]
            if not all(isinstance(t, torch.Tensor) for t in items):
                raise UsageError("a list of images must hold only tensors")
        examples: dict[int, str] = {}
        for index, item in enumerate(items):
            if item.dim() != 3:
                raise UsageError(f"tensor image {index} must be (C, H, W), got {tuple(item.shape)}")
            examples.setdefault(int(item.shape[0]), f"image {index}")
        if len(examples) > 1:
            raise _mixed_channels_error("tensor images", examples, "give all images the same channels")
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def image(self, index: int, min_side: int | None = None) -> torch.Tensor:
        return to_rgb(self.items[index].detach().cpu(), f"tensor image {index}")

    def fingerprint(self) -> dict[str, Any]:
        digest = hashlib.sha256()
        for item in self.items:
            item = item.detach().cpu().contiguous()
            digest.update(f"{tuple(item.shape)}{item.dtype}".encode())
            digest.update(item.view(torch.uint8).numpy().tobytes() if item.numel() else b"")
        return {"kind": "tensors", "count": len(self.items), "sha256": digest.hexdigest()}


_BANDS = {"1": 1, "L": 1, "I": 1, "F": 1, "LA": 2, "La": 2, "P": 3, "PA": 4, "RGB": 3, "YCbCr": 3}


class FolderSource(ImageSource):
    """Every image under a folder or fsspec URL (read with infd-io's :class:`ImageFolderDataset`)."""

    def __init__(self, root: str, convert_rgb: bool = False) -> None:
        from infd_io import ImageFolderDataset

        self.root = str(root)
        self.label = self.root
        self.dataset = ImageFolderDataset(self.root, channels=3, value_range=(0.0, 1.0), verify_files=False)
        if not convert_rgb:
            self._check_channels()

    def _check_channels(self) -> None:
        from PIL import Image

        from infd_core.outputs import filesystem

        fs, _ = filesystem(self.root)
        examples: dict[int, str] = {}
        for path in self.dataset.files:
            try:
                with fs.open(path, "rb") as handle, Image.open(handle) as opened:
                    bands = _BANDS.get(opened.mode, len(opened.getbands()))
            except Exception:  # unreadable files are the dataset's business (skipped with a warning)
                continue
            examples.setdefault(bands, Path(path).name)
        if len(examples) > 1:
            raise _mixed_channels_error(
                self.root, examples, "convert them to one mode, or pass convert_rgb=True (--convert-rgb)"
            )

    def __len__(self) -> int:
        return len(self.dataset)

    def image(self, index: int, min_side: int | None = None) -> torch.Tensor:
        return self.dataset[index]["image"]

    def fingerprint(self) -> dict[str, Any]:
        from infd_core.outputs import filesystem

        fs, _ = filesystem(self.root)
        entries = []
        for path in self.dataset.files:
            info = fs.info(path)
            entries.append([path, info.get("size"), str(info.get("mtime", info.get("LastModified", "")))])
        digest = hashlib.sha256(repr(entries).encode()).hexdigest()
        return {"kind": "folder", "root": self.root, "count": len(entries), "files_sha256": digest}


def is_zarr_url(url: str) -> bool:
    """Whether ``url`` is a zarr group (has zarr.json or .zgroup) or is named ``*.zarr``."""
    from infd_core.outputs import filesystem

    if str(url).rstrip("/").endswith(".zarr"):
        return True
    fs, path = filesystem(str(url))
    return any(fs.exists(f"{path.rstrip('/')}/{name}") for name in ("zarr.json", ".zgroup"))


def open_source(data: Any, convert_rgb: bool = False) -> ImageSource:
    """An :class:`ImageSource` for tensors, a folder, an OME-Zarr store or a list of stores."""
    if isinstance(data, ImageSource):
        return data
    if isinstance(data, torch.Tensor) or (
        isinstance(data, (list, tuple)) and data and all(isinstance(t, torch.Tensor) for t in data)
    ):
        return TensorSource(data)
    if isinstance(data, (str, Path)):
        data = str(data)
        if is_zarr_url(data):
            from infd_metrics.zarr_source import ZarrSource

            return ZarrSource([data])
        return FolderSource(data, convert_rgb=convert_rgb)
    if isinstance(data, (list, tuple)) and data and all(isinstance(u, (str, Path)) for u in data):
        from infd_metrics.zarr_source import ZarrSource

        urls = [str(u) for u in data]
        not_zarr = [u for u in urls if not is_zarr_url(u)]
        if not_zarr:
            raise UsageError(
                f"a list of paths must name OME-Zarr stores; not stores: {', '.join(not_zarr[:3])}"
            )
        return ZarrSource(urls)
    raise UsageError(
        "images must be a tensor, a list of tensors, a folder, an OME-Zarr store or a list of stores, "
        f"got {type(data).__name__}"
    )
