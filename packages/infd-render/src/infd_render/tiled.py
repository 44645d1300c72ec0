"""Halo-tiled rendering: any region, any image size, bit-identical to a whole-image render.

Each tile is expanded by a halo of at least the renderer's receptive field (clipped at the image), its
window is rendered with zero padding only on sides that are the true image border, and the tile's
pixels are cropped out and handed to a sink. Tiles of equal window shape may be rendered in batches;
``rank``/``world_size`` pick a disjoint, order-independent share of the tiles for each process/device.
Writes run on a background thread, ``write_ahead`` tiles behind the renderer, so a GPU renders the
next tile while the sink compresses and stores the last one.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import torch

from infd_core.errors import UsageError
from infd_core.events import ProgressCallback, ProgressEvent
from infd_render.coords import Region, cell_grid, check_region, coordinate_grid, image_size
from infd_render.layers import Borders
from infd_render.sinks import ArraySink, TileIndex, TileSink

logger = logging.getLogger(__name__)


class WindowRenderer(Protocol):
    """What the tiler needs from a renderer (both :class:`CLIFRenderer` and :class:`LIIFRenderer`)."""

    receptive_field: int

    def prepare_features(self, features: torch.Tensor) -> torch.Tensor: ...

    def render_window(
        self, features: torch.Tensor, coords: torch.Tensor, cells: torch.Tensor, borders: Borders
    ) -> torch.Tensor: ...


@contextlib.contextmanager
def exact_kernels() -> Iterator[None]:
    """Deterministic cuDNN algorithms, no autotuning (restored afterwards)."""
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


def to_dtype(values: torch.Tensor, dtype: Any, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Rendered values as a numpy array: float32 unchanged; uint8 maps ``value_range`` to 0..255."""
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        low, high = value_range
        scaled = ((values.float() - low) * (255.0 / (high - low))).round_().clamp_(0, 255)
        return scaled.to(torch.uint8).cpu().numpy()
    if dtype == np.float32:
        return values.float().cpu().numpy()
    raise UsageError(f"rendered tiles are uint8 or float32, not {dtype}")


def coordinate_dtype(dtype: torch.dtype) -> torch.dtype:
    """Coordinates stay float32 (float64 for float64 renderers) whatever the network's precision: in
    bfloat16, pixel centres of a 32768² image would collapse onto a few hundred values."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def tile_window(size: tuple[int, int], tile: Region, halo: int) -> tuple[Region, Borders]:
    """The tile expanded by ``halo`` (clipped to the image) and which of its sides are image borders."""
    (height, width), ((y0, y1), (x0, x1)) = size, tile
    wy0, wy1, wx0, wx1 = max(0, y0 - halo), min(height, y1 + halo), max(0, x0 - halo), min(width, x1 + halo)
    borders = Borders(top=wy0 == 0, bottom=wy1 == height, left=wx0 == 0, right=wx1 == width)
    return ((wy0, wy1), (wx0, wx1)), borders


class TiledRenderer:
    """Render regions of an image of any size tile by tile (see the module docstring).

    ``halo`` defaults to the renderer's receptive field; a smaller one is refused, since the tiles
    would then differ from the whole-image render.
    """

    def __init__(
        self,
        renderer: WindowRenderer,
        tile_size: int = 512,
        halo: int | None = None,
        *,
        batch_size: int = 1,
        write_ahead: int = 2,
        progress: ProgressCallback | None = None,
    ) -> None:
        radius = int(renderer.receptive_field)
        halo = radius if halo is None else int(halo)
        if halo < radius:
            raise UsageError(
                f"halo {halo} is smaller than the renderer's receptive-field radius {radius}: "
                "tiles would differ from the whole-image render"
            )
        if tile_size < 1 or batch_size < 1:
            raise UsageError(f"tile_size and batch_size must be positive, got {tile_size}, {batch_size}")
        if write_ahead < 0:
            raise UsageError(f"write_ahead must be 0 (write in turn) or more, got {write_ahead}")
        self.renderer, self.tile_size, self.halo, self.radius = renderer, tile_size, halo, radius
        self.batch_size, self.write_ahead, self.progress = batch_size, write_ahead, progress

    @classmethod
    def from_config(cls, renderer: WindowRenderer, config: Any, **kwargs: Any) -> TiledRenderer:
        options = {"batch_size": config.batch_size, "write_ahead": config.write_ahead, **kwargs}
        return cls(renderer, config.tile_size, config.halo, **options)

    def _device_dtype(self) -> tuple[torch.device, torch.dtype]:
        parameter = next(iter(self.renderer.parameters()), None)  # type: ignore[attr-defined]
        if parameter is None:
            return torch.device("cpu"), torch.float32
        return parameter.device, parameter.dtype

    @torch.no_grad()
    def render_tiles(
        self, features: torch.Tensor, size: tuple[int, int], tiles: Sequence[Region]
    ) -> list[torch.Tensor]:
        """Render tiles whose windows have one shape and one set of borders, as one batch.

        ``features`` are prepared (``renderer.prepare_features``) ``(1, C, h, w)`` on the device.
        """
        windows = [tile_window(size, tile, self.halo) for tile in tiles]
        borders = windows[0][1]
        device, dtype = features.device, coordinate_dtype(features.dtype)
        coords = torch.stack([coordinate_grid(size, w, dtype=dtype, device=device) for w, _ in windows])
        cells = torch.stack([cell_grid(size, w, dtype=dtype, device=device) for w, _ in windows])
        out = self.renderer.render_window(features, coords, cells, borders)
        crops = []
        for k, (tile, (window, _)) in enumerate(zip(tiles, windows, strict=True)):
            (wy0, _), (wx0, _) = window
            top = wy0 + (0 if borders.top else self.radius)
            left = wx0 + (0 if borders.left else self.radius)
            (y0, y1), (x0, x1) = tile
            crops.append(out[k, :, y0 - top : y1 - top, x0 - left : x1 - left])
        return crops

    def _batches(
        self, size: tuple[int, int], tiles: Sequence[tuple[TileIndex, Region]]
    ) -> list[list[tuple[TileIndex, Region]]]:
        """Tiles grouped by (window shape, borders), in runs of at most ``batch_size``."""
        groups: dict[Any, list[tuple[TileIndex, Region]]] = {}
        for index, tile in tiles:
            (wy, wx), borders = tile_window(size, tile, self.halo)
            groups.setdefault((wy[1] - wy[0], wx[1] - wx[0], borders), []).append((index, tile))
        batches = []
        for group in groups.values():
            for start in range(0, len(group), self.batch_size):
                batches.append(group[start : start + self.batch_size])
        return batches

    def render_to_sink(
        self,
        sink: TileSink,
        features: torch.Tensor,
        size: int | Sequence[int],
        *,
        value_range: tuple[float, float] = (-1.0, 1.0),
        rank: int = 0,
        world_size: int = 1,
    ) -> int:
        """Render the sink's tiles (this rank's share: every ``world_size``-th, from ``rank``); returns
        how many were written. ``features`` is ``(C, h, w)`` or ``(1, C, h, w)``."""
        size = image_size(size)
        if not 0 <= rank < world_size:
            raise UsageError(f"rank {rank} is outside world_size {world_size}")
        device, dtype = self._device_dtype()
        features = features.unsqueeze(0) if features.dim() == 3 else features
        if features.shape[0] != 1:
            raise UsageError(f"tiled rendering takes the features of one image, got {tuple(features.shape)}")
        mine = sink.tiles()[rank::world_size]
        logger.info(
            "rendering %d tiles of a %dx%d image (tile %d, halo %d, receptive field %d)",
            len(mine),
            size[0],
            size[1],
            self.tile_size,
            self.halo,
            self.radius,
        )
        writes = _WriteBehind(sink, self.write_ahead, self.progress, len(mine))
        with writes, torch.no_grad(), exact_kernels():
            prepared = self.renderer.prepare_features(features.to(device=device, dtype=dtype))
            for batch in self._batches(size, mine):
                rendered = self.render_tiles(prepared, size, [tile for _, tile in batch])
                for (index, _), values in zip(batch, rendered, strict=True):
                    writes.submit(index, to_dtype(values, sink.dtype, value_range))
        return writes.done

    def render_region(
        self,
        features: torch.Tensor,
        size: int | Sequence[int],
        region: Region | None = None,
        *,
        dtype: Any = np.float32,
        value_range: tuple[float, float] = (-1.0, 1.0),
    ) -> np.ndarray:
        """``(out, h, w)`` numpy array of ``region`` (default: the whole image), rendered tile by tile."""
        size = image_size(size)
        channels = int(self.renderer.config.out_channels)  # type: ignore[attr-defined]
        sink = ArraySink(size, channels, dtype, self.tile_size, check_region(size, region))
        self.render_to_sink(sink, features, size, value_range=value_range)
        return sink.array


class _WriteBehind:
    """Hands tiles to ``sink.write`` on one background thread, at most ``ahead`` tiles pending.

    Leaving the ``with`` block waits for every pending write; the first failed write is raised in the
    rendering thread (at the next submit or at the end), and nothing is submitted after it.
    """

    def __init__(self, sink: TileSink, ahead: int, progress: ProgressCallback | None, total: int) -> None:
        self.sink, self.ahead, self.progress, self.total = sink, ahead, progress, total
        self.pending: collections.deque[concurrent.futures.Future[None]] = collections.deque()
        self.executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.done = 0

    def __enter__(self) -> _WriteBehind:
        if self.ahead > 0:
            self.executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="infd-render-write")
        return self

    def submit(self, index: TileIndex, data: np.ndarray) -> None:
        if self.executor is None:
            self.sink.write(index, data)
            self._count()
            return
        while len(self.pending) >= self.ahead:
            self._finish_oldest()
        self.pending.append(self.executor.submit(self.sink.write, index, data))

    def _finish_oldest(self) -> None:
        self.pending.popleft().result()
        self._count()

    def _count(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(ProgressEvent("render", self.done, self.total))

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                while self.pending:
                    self._finish_oldest()
            else:  # already failing: let queued writes finish, keep the first error
                concurrent.futures.wait(self.pending)
        finally:
            if self.executor is not None:
                self.executor.shutdown(wait=True)


@torch.no_grad()
def render_whole(renderer: Any, features: torch.Tensor, size: int | Sequence[int]) -> torch.Tensor:
    """``(out, H, W)``: the whole image in one call of the renderer's ``render(features, coords, cells)``."""
    parameter = next(iter(renderer.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    dtype = parameter.dtype if parameter is not None else torch.float32
    features = (features.unsqueeze(0) if features.dim() == 3 else features).to(device=device, dtype=dtype)
    coords = coordinate_grid(size, dtype=coordinate_dtype(dtype), device=device).unsqueeze(0)
    cells = cell_grid(size, dtype=coordinate_dtype(dtype), device=device).unsqueeze(0)
    with exact_kernels():
        return renderer.render(features, coords, cells)[0]
