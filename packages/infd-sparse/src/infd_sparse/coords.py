"""Batches of coordinate sets on integer grids.

A :class:`CoordinateBatch` holds ``N`` points of ``B`` samples on one ``H × W`` grid:

* ``coords``: ``int64 [N, 2]``, ``(row, column)`` with ``0 <= row < H`` and ``0 <= column < W``;
* ``batch``: ``int64 [N]``, the sample each point belongs to, non-decreasing (points grouped by sample);
* per-sample point counts may differ (ragged batches); values live beside it as ``[N, C]`` tensors.

Point ``i`` of the batch is the pixel centre ``((row + 0.5) / H, (column + 0.5) / W)`` of the unit square.
No structure of size ``H × W`` is ever allocated, so grids may be gigapixel-sized.
"""

from __future__ import annotations

import dataclasses

import torch

from infd_sparse.errors import SparseInputError


@dataclasses.dataclass(frozen=True)
class CoordinateBatch:
    """Integer coordinates of a ragged batch of point sets on an ``H × W`` grid."""

    coords: torch.Tensor
    batch: torch.Tensor
    grid: tuple[int, int]
    batch_size: int

    def __post_init__(self) -> None:
        coords, batch = self.coords, self.batch
        if coords.dim() != 2 or coords.shape[1] != 2:
            raise SparseInputError(f"coords must have shape [N, 2], got {list(coords.shape)}")
        if coords.dtype != torch.int64 or batch.dtype != torch.int64:
            raise SparseInputError(f"coords and batch must be int64, got {coords.dtype} and {batch.dtype}")
        if batch.shape != (coords.shape[0],):
            raise SparseInputError(f"batch must have shape [{coords.shape[0]}], got {list(batch.shape)}")
        if batch.device != coords.device:
            raise SparseInputError(f"coords on {coords.device} but batch on {batch.device}")
        height, width = self.grid
        if height <= 0 or width <= 0 or self.batch_size <= 0:
            raise SparseInputError(f"grid {self.grid} and batch size {self.batch_size} must be positive")
        if coords.numel():
            low, high = coords.min(0).values, coords.max(0).values
            if low.min() < 0 or high[0] >= height or high[1] >= width:
                raise SparseInputError(
                    f"coordinates outside the {height}x{width} grid "
                    f"(rows {int(low[0])}..{int(high[0])}, columns {int(low[1])}..{int(high[1])})"
                )
            if batch.min() < 0 or batch.max() >= self.batch_size:
                raise SparseInputError(f"batch indices must lie in [0, {self.batch_size})")
            if (batch[1:] < batch[:-1]).any():
                raise SparseInputError("points must be grouped by sample (batch non-decreasing)")
            keys = self.keys()
            if torch.unique(keys).numel() != keys.numel():
                raise SparseInputError("duplicate coordinates within a sample")

    @property
    def num_points(self) -> int:
        return int(self.coords.shape[0])

    @property
    def device(self) -> torch.device:
        return self.coords.device

    def keys(self) -> torch.Tensor:
        """A unique int64 key per point: ``(sample · H + row) · W + column``."""
        height, width = self.grid
        return (self.batch * height + self.coords[:, 0]) * width + self.coords[:, 1]

    def counts(self) -> torch.Tensor:
        """Points per sample, ``int64 [B]``."""
        return torch.bincount(self.batch, minlength=self.batch_size)

    def centres(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Pixel centres in ``[0, 1]²`` as ``[N, 2]`` (row, column)."""
        size = torch.tensor(self.grid, dtype=dtype, device=self.device)
        return (self.coords.to(dtype) + 0.5) / size

    def to(self, device: torch.device | str) -> CoordinateBatch:
        return CoordinateBatch(self.coords.to(device), self.batch.to(device), self.grid, self.batch_size)

    @classmethod
    def from_masks(cls, masks: torch.Tensor) -> CoordinateBatch:
        """The points where a boolean ``[B, H, W]`` mask is true (small grids; row-major order)."""
        if masks.dim() != 3 or masks.dtype != torch.bool:
            raise SparseInputError(f"masks must be bool [B, H, W], got {masks.dtype} {list(masks.shape)}")
        b, row, col = torch.nonzero(masks, as_tuple=True)
        return cls(torch.stack([row, col], 1), b, (masks.shape[1], masks.shape[2]), masks.shape[0])

    @classmethod
    def full(
        cls, batch_size: int, grid: tuple[int, int], device: torch.device | str = "cpu"
    ) -> CoordinateBatch:
        """Every pixel of every sample."""
        return GridWindow.of(batch_size, grid, (0, grid[0], 0, grid[1]), device)

    @classmethod
    def random(
        cls,
        batch_size: int,
        grid: tuple[int, int],
        subsampling: float,
        generator: torch.Generator,
        device: torch.device | str = "cpu",
    ) -> CoordinateBatch:
        """A uniform random ``1/subsampling`` of the pixels of each sample (4: keep a quarter)."""
        if subsampling < 1:
            raise SparseInputError(f"subsampling factor must be >= 1, got {subsampling}")
        height, width = grid
        count = max(1, round(height * width / subsampling))
        parts, batches = [], []
        for b in range(batch_size):
            flat = torch.randperm(height * width, generator=generator, device=generator.device)[:count]
            flat = flat.sort().values.to(device)
            parts.append(torch.stack([flat // width, flat % width], 1))
            batches.append(torch.full((count,), b, dtype=torch.int64, device=device))
        return cls(torch.cat(parts), torch.cat(batches), grid, batch_size)


class GridWindow(CoordinateBatch):
    """Every pixel of a rectangle ``rect = (top, bottom, left, right)`` of each sample, row-major.

    Valid by construction, so the constructor's checks (a sort of all keys) are skipped, and ``coords``
    and ``batch`` are only made when read: tiled evaluation builds one per tile and stage, and resampling
    onto a grid uses the rectangle's separable structure instead (:mod:`infd_sparse.resample`).
    """

    rect: tuple[int, int, int, int]

    @classmethod
    def of(
        cls,
        batch_size: int,
        grid: tuple[int, int],
        rect: tuple[int, int, int, int],
        device: torch.device | str = "cpu",
    ) -> GridWindow:
        """Rows ``top:bottom`` and columns ``left:right`` (``rect``) of every sample."""
        top, bottom, left, right = (int(v) for v in rect)
        if not (0 <= top < bottom <= grid[0] and 0 <= left < right <= grid[1]) or batch_size < 1:
            raise SparseInputError(f"window {rect} is not inside the {grid[0]}x{grid[1]} grid")
        window = object.__new__(cls)
        fields = {"grid": (int(grid[0]), int(grid[1])), "batch_size": int(batch_size)}
        fields |= {"rect": (top, bottom, left, right), "_device": torch.device(device), "_made": {}}
        for name, value in fields.items():
            object.__setattr__(window, name, value)
        return window

    @property  # type: ignore[override]
    def coords(self) -> torch.Tensor:
        if "coords" not in self._made:
            top, bottom, left, right = self.rect
            rows = torch.arange(top, bottom, device=self._device).repeat_interleave(right - left)
            cols = torch.arange(left, right, device=self._device).repeat(bottom - top)
            self._made["coords"] = torch.stack([rows, cols], 1).repeat(self.batch_size, 1)
        return self._made["coords"]

    @property  # type: ignore[override]
    def batch(self) -> torch.Tensor:
        if "batch" not in self._made:
            per_sample = self.height * self.width
            samples = torch.arange(self.batch_size, device=self._device)
            self._made["batch"] = samples.repeat_interleave(per_sample)
        return self._made["batch"]

    @property
    def height(self) -> int:
        return self.rect[1] - self.rect[0]

    @property
    def width(self) -> int:
        return self.rect[3] - self.rect[2]

    @property
    def num_points(self) -> int:
        return self.batch_size * self.height * self.width

    @property
    def device(self) -> torch.device:
        return self._device

    def to(self, device: torch.device | str) -> GridWindow:
        return GridWindow.of(self.batch_size, self.grid, self.rect, device)


def downsample(points: CoordinateBatch, stride: int) -> CoordinateBatch:
    """The coarse coordinate set ``unique(coords // stride)`` on the ``ceil(H/s) × ceil(W/s)`` grid."""
    if stride < 1:
        raise SparseInputError(f"stride must be >= 1, got {stride}")
    height, width = points.grid
    coarse_grid = (-(-height // stride), -(-width // stride))
    coarse = points.coords // stride
    keys = (points.batch * coarse_grid[0] + coarse[:, 0]) * coarse_grid[1] + coarse[:, 1]
    unique = torch.unique(keys)  # sorted: grouped by sample, row-major within
    per_sample = coarse_grid[0] * coarse_grid[1]
    batch, rest = unique // per_sample, unique % per_sample
    coords = torch.stack([rest // coarse_grid[1], rest % coarse_grid[1]], 1)
    return CoordinateBatch(coords, batch, coarse_grid, points.batch_size)
