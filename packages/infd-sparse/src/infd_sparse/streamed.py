"""Out-of-core evaluation of a point model over every pixel of images larger than memory.

:class:`StreamedGrid` is a :class:`~infd_sparse.evaluation.PointEvaluator` whose ``[N, C]`` values live
in array stores (zarr arrays ``[B, C, H, W]``, made by an ``allocate`` callback) instead of memory:

* ``pointwise`` returns a :class:`DeferredField`, computed tile by tile whenever a later stage reads it
  (nothing is stored);
* ``local`` stores its output: the inputs are first materialised, then each tile is read with its halo,
  evaluated and its own pixels written. A ``channelwise`` stage (a depthwise convolution: output channel
  c depends on input channel c only, ``fn(..., channels=slice)``) runs on a few channels at a time, so
  its tiles can be large next to the kernel's halo;
* ``reduce`` sums per-tile results in tile order.

Peak memory is set by ``memory_budget`` (the tiles), not by the image. Ranks of a process group share
every stage's tiles (tile ``i`` goes to rank ``i mod world``): tiles are whole chunks of every array, so
no two ranks write one chunk, and a reduction gathers the per-tile results and sums them in tile order on
every rank, so the output does not depend on the number of ranks, to the bit.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import torch

from infd_core.memory import release_freed_memory
from infd_sparse.coords import GridWindow
from infd_sparse.dense import DenseWindow
from infd_sparse.errors import SparseInputError
from infd_sparse.evaluation import Rect, add
from infd_sparse.partials import gather_tile_results

logger = logging.getLogger(__name__)

#: bytes per pixel and channel of a channelwise stage's tile: its input and its rows, the FFT's padded
#: planes (input, kernel, product, inverse), the output and its interior (measured: ~50)
LOCAL_BYTES_PER_VALUE = 64
#: side of the arrays' chunks (tiles are multiples of it, so ranks never share a chunk)
DEFAULT_CHUNK = 256


class ArrayLike(Protocol):
    shape: tuple[int, ...]

    def __getitem__(self, key: Any) -> Any: ...

    def __setitem__(self, key: Any, value: Any) -> None: ...


Allocate = Callable[[str, tuple[int, int, int, int], tuple[int, int, int, int]], ArrayLike]


class Field(Protocol):
    channels: int

    def read(self, rect: Rect, cache: dict[int, torch.Tensor] | None = None) -> torch.Tensor: ...


class StoredField:
    """A stage's output ``[B, C, H, W]`` in an array store; read as rows ``[B·h·w, C]`` of a rectangle."""

    def __init__(self, array: ArrayLike, device: torch.device) -> None:
        self.array = array
        self.channels = int(array.shape[1])
        self.device = device

    def read(
        self, rect: Rect, cache: dict[int, torch.Tensor] | None = None, channels: slice = slice(None)
    ) -> torch.Tensor:
        top, bottom, left, right = rect
        block = np.ascontiguousarray(self.array[:, channels, top:bottom, left:right])
        values = torch.from_numpy(block).to(self.device)
        return values.permute(0, 2, 3, 1).reshape(-1, values.shape[1])

    def write(self, rect: Rect, rows: torch.Tensor, batch_size: int, channels: slice = slice(None)) -> None:
        top, bottom, left, right = rect
        block = rows.reshape(batch_size, bottom - top, right - left, -1).permute(0, 3, 1, 2)
        self.array[:, channels, top:bottom, left:right] = block.detach().cpu().contiguous().numpy()


class DeferredField:
    """``fn(*inputs, points)`` of a pointwise stage, computed on whatever rectangle is read."""

    def __init__(self, grid: StreamedGrid, fn: Callable[..., torch.Tensor], inputs: Sequence[Any]) -> None:
        self.grid = grid
        self.fn = fn
        self.inputs = list(inputs)
        self.channels = -1  # known once computed
        self.stored: StoredField | None = None  # once a local stage has needed it whole

    def read(self, rect: Rect, cache: dict[int, torch.Tensor] | None = None) -> torch.Tensor:
        cache = {} if cache is None else cache
        key = id(self)
        if key not in cache:
            rows = [self.grid.rows(x, rect, cache) for x in self.inputs]
            cache[key] = self.fn(*rows, self.grid.points(rect))
            self.channels = int(cache[key].shape[1])
        return cache[key]


@dataclasses.dataclass(frozen=True)
class TilePlan:
    """Sides of the pointwise and local tiles and the channels a channelwise tile holds at once."""

    chunk: int
    pointwise: int
    local: int
    channel_group: int


def plan_tiles(
    batch_size: int,
    grid: tuple[int, int],
    halo: int,
    memory_budget: int,
    point_bytes: int,
    channels: int,
    chunk: int = DEFAULT_CHUNK,
) -> TilePlan:
    """Tile sides (multiples of ``chunk``) whose working sets fit ``memory_budget`` bytes.

    ``point_bytes``: the bytes one pixel of one image needs in a pointwise stage (its activations).
    """
    if memory_budget <= 0 or point_bytes <= 0 or batch_size < 1:
        raise SparseInputError(f"need a positive memory budget and sizes, got {memory_budget}, {point_bytes}")
    pointwise_fit = math.sqrt(memory_budget / (batch_size * point_bytes))
    # chunks: at most ``chunk``, a power of two no larger than a pointwise tile (16 at least)
    chunk = min(
        chunk, max(16, 2 ** int(math.log2(max(pointwise_fit, 1)))), 2 ** math.ceil(math.log2(max(grid)))
    )

    def side(limit: float) -> int:
        return max(chunk, int(limit // chunk) * chunk)

    pointwise = side(pointwise_fit)
    per_value = batch_size * LOCAL_BYTES_PER_VALUE
    local = side(math.sqrt(memory_budget / per_value) - 2 * halo)
    group = int(
        memory_budget // (per_value * (min(local, grid[0]) + 2 * halo) * (min(local, grid[1]) + 2 * halo))
    )
    return TilePlan(
        chunk, min(pointwise, side(max(grid))), min(local, side(max(grid))), max(1, min(channels, group))
    )


def allocate_shared(
    allocate: Allocate,
    rank: int,
    barrier: Callable[[], None],
    name: str,
    shape: tuple[int, ...],
    chunks: tuple[int, ...],
) -> Any:
    """``allocate(name, shape, chunks)`` called by every rank of a group: rank 0 makes (or replaces) the
    array, then the others open it once it exists, so no rank replaces an array another is writing."""
    array = allocate(name, shape, chunks) if rank == 0 else None
    barrier()
    return array if array is not None else allocate(name, shape, chunks)


class StreamedGrid:
    """Every pixel of ``batch_size`` images of ``grid``, each stage streamed through array stores.

    ``allocate(name, shape, chunks)`` makes a float32 array (e.g. a zarr array in a scratch store);
    ``halo`` is the largest local operator's radius; ``rank``/``world`` share tiles among processes
    (``collective``: a ``torch.distributed``-like module with ``barrier`` and ``all_reduce``).
    ``on_tile`` is called after every tile of every stage this rank computes.
    """

    def __init__(
        self,
        batch_size: int,
        grid: tuple[int, int],
        halo: int,
        plan: TilePlan,
        allocate: Allocate,
        *,
        device: torch.device | str = "cpu",
        rank: int = 0,
        world: int = 1,
        collective: Any = None,
        on_tile: Callable[[], None] | None = None,
    ) -> None:
        if batch_size < 1 or min(grid) < 1 or halo < 0 or not 0 <= rank < world:
            raise SparseInputError(
                f"bad streamed grid: batch {batch_size}, grid {grid}, halo {halo}, rank {rank}/{world}"
            )
        for side in (plan.pointwise, plan.local):
            if side % plan.chunk:
                raise SparseInputError(f"tile side {side} is not a multiple of the chunk side {plan.chunk}")
        self.batch_size = batch_size
        self.grid = (int(grid[0]), int(grid[1]))
        self.halo = int(halo)
        self.plan = plan
        self.allocate = allocate
        self.device = torch.device(device)
        self.rank, self.world, self.collective = rank, world, collective
        self.on_tile = on_tile
        self._count = 0

    # -- geometry ------------------------------------------------------------------------------------
    def tiles(self, side: int) -> list[Rect]:
        height, width = self.grid
        return [
            (top, min(height, top + side), left, min(width, left + side))
            for top in range(0, height, side)
            for left in range(0, width, side)
        ]

    def mine(self, tiles: list[Rect]) -> Iterator[tuple[int, Rect]]:
        """This rank's share of ``tiles`` with their indices."""
        for index in range(self.rank, len(tiles), self.world):
            yield index, tiles[index]

    def extended(self, rect: Rect) -> Rect:
        top, bottom, left, right = rect
        h, (height, width) = self.halo, self.grid
        return max(0, top - h), min(height, bottom + h), max(0, left - h), min(width, right + h)

    def points(self, rect: Rect) -> GridWindow:
        return GridWindow.of(self.batch_size, self.grid, rect, self.device)

    def rows(self, x: Any, rect: Rect, cache: dict[int, torch.Tensor] | None = None) -> torch.Tensor:
        """Rows ``[B·h·w, C]`` of a field, or of an in-memory ``[N, C]`` tensor, on ``rect``."""
        if isinstance(x, torch.Tensor):
            if x.dim() != 2 or x.shape[0] != self.batch_size * self.grid[0] * self.grid[1]:
                raise SparseInputError(f"inputs must be fields or [{self.batch_size}·H·W, C] tensors")
            top, bottom, left, right = rect
            view = x.view(self.batch_size, self.grid[0], self.grid[1], -1)
            return view[:, top:bottom, left:right].reshape(-1, x.shape[1])
        return x.read(rect, cache)

    def new_field(self, channels: int) -> StoredField:
        """The next stage's output array: made by rank 0, then opened by the others (same name on all)."""
        self._count += 1
        name = f"stage-{self._count}"
        chunks = (self.batch_size, 1, self.plan.chunk, self.plan.chunk)
        shape = (self.batch_size, channels, *self.grid)
        array = allocate_shared(self.allocate, self.rank, self.barrier, name, shape, chunks)
        return StoredField(array, self.device)

    def channels_of(self, x: Any) -> int:
        """A field's channel count (a deferred field is computed on one pixel to learn it)."""
        if isinstance(x, (StoredField, torch.Tensor)):
            return int(x.channels if isinstance(x, StoredField) else x.shape[1])
        return int(self.rows(x, (0, 1, 0, 1)).shape[1])

    def _tick(self) -> None:
        """After each tile: free memory back to the system, then report."""
        release_freed_memory()
        if self.on_tile is not None:
            self.on_tile()

    def barrier(self) -> None:
        if self.world > 1:
            self.collective.barrier()

    # -- stages ----------------------------------------------------------------------------------------
    def pointwise(self, fn: Callable[..., torch.Tensor], *inputs: Any) -> DeferredField:
        return DeferredField(self, fn, inputs)

    def materialise(self, x: Any) -> StoredField:
        """A field stored in an array (deferred fields are computed tile by tile and written)."""
        if isinstance(x, StoredField):
            return x
        if isinstance(x, DeferredField) and x.stored is not None:  # read by an earlier local stage
            return x.stored
        out = self.new_field(self.channels_of(x))
        for _, rect in self.mine(self.tiles(self.plan.pointwise)):
            out.write(rect, self.rows(x, rect), self.batch_size)
            self._tick()
        self.barrier()
        if isinstance(x, DeferredField):
            x.stored = out
        return out

    def local(self, fn: Callable[..., torch.Tensor], *inputs: Any, channelwise: bool = False) -> StoredField:
        stored = [self.materialise(x) for x in inputs]
        channels = stored[0].channels
        if channelwise:
            if any(s.channels != channels for s in stored):
                raise SparseInputError("a channelwise stage needs inputs of one channel count")
            step = self.plan.channel_group
            groups = [slice(c, min(channels, c + step)) for c in range(0, channels, step)]
        else:  # the output's channel count from one pixel with its halo
            probe = self.extended((0, 1, 0, 1))
            channels = fn(*[s.read(probe) for s in stored], self.points(probe), self.window(probe)).shape[1]
            groups = [slice(None)]
        out = self.new_field(channels)
        for _, rect in self.mine(self.tiles(self.plan.local)):
            grown = self.extended(rect)
            window, points = self.window(grown), self.points(grown)
            for group in groups:
                rows = [s.read(grown, channels=group) for s in stored]
                result = (
                    fn(*rows, points, window, channels=group) if channelwise else fn(*rows, points, window)
                )
                out.write(rect, self._inner(result, grown, rect), self.batch_size, group)
                del rows, result
                self._tick()
        self.barrier()
        return out

    def window(self, rect: Rect) -> DenseWindow:
        top, bottom, left, right = rect
        return DenseWindow(self.batch_size, self.grid, top, left, bottom - top, right - left, self.halo)

    def _inner(self, rows: torch.Tensor, grown: Rect, rect: Rect) -> torch.Tensor:
        g_top, g_bottom, g_left, g_right = grown
        top, bottom, left, right = rect
        block = rows.view(self.batch_size, g_bottom - g_top, g_right - g_left, -1)
        inner = block[:, top - g_top : bottom - g_top, left - g_left : right - g_left]
        return inner.reshape(-1, rows.shape[1])

    def reduce(self, fn: Callable[..., Any], *inputs: Any) -> Any:
        tiles = self.tiles(self.plan.pointwise)
        results = {}
        for index, rect in self.mine(tiles):
            cache: dict[int, torch.Tensor] = {}
            results[index] = fn(*[self.rows(x, rect, cache) for x in inputs], self.points(rect))
            self._tick()
        ordered = gather_tile_results(results, len(tiles), self.world, self.collective)
        total = ordered[0]
        for result in ordered[1:]:
            total = add(total, result)
        return total

    def for_each_tile(self, fn: Callable[[Rect], None]) -> None:
        """``fn(rect)`` on this rank's pointwise tiles (a sampler's state update), then a barrier."""
        for _, rect in self.mine(self.tiles(self.plan.pointwise)):
            fn(rect)
            self._tick()
        self.barrier()

    def tile_count(self) -> int:
        """Tiles this rank computes per pointwise pass (the unit of progress)."""
        return len(range(self.rank, len(self.tiles(self.plan.pointwise)), self.world))
