"""Mollified DDIM for images larger than memory: the state streamed through a zarr scratch store.

The same sampler as :func:`infd_inftydiff.sampling.mollified_ddim` (η = 0), with everything that spans
the image on disk: the white noise (drawn in bands that equal one whole draw), T applied to it and the
final Wiener inverse (infd-measures' band-by-band Fourier filter), the DDIM state ``x_t`` (two buffers,
read one step, written the next) and the model's stage outputs (infd-sparse :class:`StreamedGrid`).

Each finished phase is recorded atomically in the store's ``progress.json`` (the noise, every step, the
Wiener inverse), with the run's fingerprint: a killed run resumes from the last record and gives the
same numbers, bit for bit, because each step reads only the buffer the record names and rewrites every
tile of the other. Ranks of a process group share every stage's tiles and the noise's planes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

import torch

from infd_core.draws import randn_rows
from infd_core.errors import UsageError
from infd_core.faults import fault_point
from infd_inftydiff.sampling import white_noise_scale, x0_from_noise
from infd_io.scratch import ScratchStore
from infd_measures.discrete import DiscreteSchedule
from infd_measures.mollifier import GaussianMollifier
from infd_samplers import ddim_transition, time_grid
from infd_samplers.parameterisation import to_x0_and_eps
from infd_samplers.schedule_view import ScheduleView
from infd_sparse.streamed import StoredField, StreamedGrid, allocate_shared, plan_tiles

logger = logging.getLogger(__name__)

#: what the interpreter, torch, the model and zarr's buffers take besides the tiles (CPU)
BASE_BYTES = 600 * 2**20
#: ``noise_field(ev, values, time)``: the model's Tξ̂ over every pixel as a field of ``ev``
NoiseField = Callable[[StreamedGrid, StoredField, torch.Tensor], Any]


@dataclasses.dataclass
class StreamedRun:
    """Where and how a streamed sample runs.

    ``memory_budget``: bytes the process may use (tiles get what the base leaves); ``fingerprint``: what
    the run's result depends on, kept in the progress record (a record of other settings is not resumed);
    ``progress(done, total, metrics)`` counts tiles (total None until the first step has been counted).
    """

    scratch_url: str
    memory_budget: int
    fingerprint: Mapping[str, Any] | None = None
    rank: int = 0
    world: int = 1
    collective: Any = None
    progress: Callable[[int, int | None, dict[str, str]], None] | None = None
    device: torch.device | str = "cpu"

    @property
    def tile_budget(self) -> int:
        """Bytes for the tiles: what the base leaves, but at least a quarter of the budget."""
        return max(self.memory_budget - BASE_BYTES, self.memory_budget // 4, 1)


class _Progress:
    """Tiles done across the steps; the total is known once the first step has been counted."""

    def __init__(self, run: StreamedRun, first: int, steps: int) -> None:
        self.report, self.step, self.steps = run.progress, first, steps
        self.done, self.per_step, self.total = 0, 0, None

    def tick(self) -> None:
        self.done += 1
        self.per_step += self.total is None
        if self.report is not None:
            self.report(self.done, self.total, {"step": f"{self.step + 1}/{self.steps}"})

    def step_finished(self) -> None:
        self.step += 1
        if self.total is None:
            self.total = self.per_step * (self.steps - self.step) + self.done


def streamed_mollified_ddim(
    noise_field: NoiseField,
    schedule: DiscreteSchedule,
    mollifier: GaussianMollifier,
    shape: tuple[int, int, int],
    train_resolution: int,
    generators: list[torch.Generator],
    *,
    steps: int,
    halo: int,
    point_bytes: int,
    channels: int,
    run: StreamedRun,
    wiener_epsilon: float = 1e-3,
) -> Any:
    """The sampled images' Wiener-inverted values ``[B, C, H, W]`` (float32, not yet clipped) as an array
    of the scratch store; every rank returns it once all have finished."""
    c, height, width = shape
    batch = len(generators)
    store = ScratchStore(run.scratch_url) if run.rank == 0 else None  # rank 0 makes the group first
    _barrier(run)
    store = store or ScratchStore(run.scratch_url)

    def allocate(name: str, shape: tuple[int, ...], chunks: tuple[int, ...]) -> Any:
        return allocate_shared(store.allocate, run.rank, lambda: _barrier(run), name, shape, chunks)

    fingerprint = dict(run.fingerprint or {}) | {"shape": [batch, c, height, width], "steps": steps}
    record = store.read_progress()
    if record is not None and record.get("fingerprint") != _jsonable(fingerprint):
        logger.info("%s: a state of other settings is started afresh", run.scratch_url)
        record = None
    grid = [int(t) for t in time_grid(ScheduleView(schedule, torch.zeros(batch, 1)), steps)]
    total = len(grid) - 1
    plan = plan_tiles(batch, (height, width), halo, run.tile_budget, point_bytes, channels)
    chunks = (1, 1, plan.chunk, plan.chunk)  # one plane a chunk: ranks that share planes never share one
    states = [allocate(f"x-{i}", (batch, c, height, width), chunks) for i in (0, 1)]
    planes = [(b, ch) for b in range(batch) for ch in range(c)][run.rank :: run.world]
    filter_budget = run.tile_budget

    def record_progress(**fields: Any) -> None:
        _barrier(run)
        if run.rank == 0:
            store.write_progress({"fingerprint": _jsonable(fingerprint), "steps": total, **fields})
        _barrier(run)

    if record is None:  # x_T = T(scale ξ), ξ white at the target size
        scale = white_noise_scale(height, width, train_resolution)
        white = allocate("white", (batch, c, height, width), chunks)
        rows = max(1, filter_budget // (16 * width))
        for b in range(run.rank, batch, run.world):
            for plane, top, band in randn_rows((c, height, width), generators[b], rows):
                white[b, plane, top : top + band.shape[0]] = (scale * band).numpy()
        _barrier(run)
        mollifier.filter_streamed(white, states[0], lambda g: g, store.allocate, filter_budget,
                                  planes=planes, scratch_name=f"fourier-{run.rank}")  # fmt: skip
        record_progress(done=0)
        record = {"done": 0}
    done = int(record.get("done", 0))
    progress = _Progress(run, done, total)
    for k in range(done, total):
        streamed_step(noise_field, schedule, states[k % 2], states[(k + 1) % 2], grid[k], grid[k + 1],
                      plan, halo, store, run, progress)  # fmt: skip
        progress.step_finished()
        record_progress(done=k + 1)
        fault_point("streamed-step")
    image = allocate("image", (batch, c, height, width), chunks)
    if not record.get("image"):
        mollifier.filter_streamed(states[total % 2], image, mollifier.wiener_response(wiener_epsilon),
                                  store.allocate, filter_budget, planes=planes,
                                  scratch_name=f"fourier-{run.rank}")  # fmt: skip
        record_progress(done=total, image=True)
    return image


@torch.no_grad()
def streamed_step(
    noise_field: NoiseField,
    schedule: DiscreteSchedule,
    source: Any,
    target: Any,
    t: int,
    s: int,
    plan: Any,
    halo: int,
    store: ScratchStore,
    run: StreamedRun,
    progress: _Progress | None = None,
) -> None:
    """One DDIM step t → s from the array ``source`` into ``target``, tile by tile (no autograd)."""
    batch, c, height, width = (int(v) for v in source.shape)
    device = torch.device(run.device)
    ev = StreamedGrid(batch, (height, width), halo, plan, store.allocate, device=device, rank=run.rank,
                      world=run.world, collective=run.collective,
                      on_tile=progress.tick if progress else None)  # fmt: skip
    state = StoredField(source, device)
    steps_t = torch.full((batch,), t, dtype=torch.long)
    noise = noise_field(ev, state, steps_t.to(torch.float32) / schedule.num_steps)

    def update(rect: tuple[int, int, int, int]) -> None:
        top, bottom, left, right = rect
        cache: dict[int, torch.Tensor] = {}
        x = ev.rows(state, rect, cache).view(batch, bottom - top, right - left, c).permute(0, 3, 1, 2)
        eps_hat = ev.rows(noise, rect, cache).view(batch, bottom - top, right - left, c).permute(0, 3, 1, 2)
        view = ScheduleView(schedule, x)
        alpha, sigma = view.cast(view.alpha(t)), view.cast(view.sigma(t))
        x0 = x0_from_noise(schedule, x, eps_hat, steps_t)
        _, eps = to_x0_and_eps(x0, "x0", x, alpha, sigma)
        x_next, _ = ddim_transition(view, t, s, x0, eps)
        target[:, :, top:bottom, left:right] = x_next.cpu().contiguous().numpy()
        fault_point("streamed-tile")

    ev.for_each_tile(update)


def _barrier(run: StreamedRun) -> None:
    if run.world > 1:
        run.collective.barrier()


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), for comparing with a record."""
    import json

    return json.loads(json.dumps(value, sort_keys=True, default=str))


def sample_streamed(
    model: Any,
    noise_field: NoiseField,
    schedule: DiscreteSchedule,
    mollifier: GaussianMollifier,
    size: tuple[int, int],
    generators: list[torch.Generator],
    *,
    steps: int,
    run: StreamedRun,
    wiener_epsilon: float,
) -> Any:
    """:func:`streamed_mollified_ddim` for a ∞-Diff-family denoiser ``model`` (its shapes and kernels)."""
    config = model.config
    return streamed_mollified_ddim(
        noise_field, schedule, mollifier, (config.out_channels, *size), config.train_resolution, generators,
        steps=steps, run=run, wiener_epsilon=wiener_epsilon, **streaming_geometry(model, size),
    )  # fmt: skip


def streaming_geometry(model: Any, size: tuple[int, int]) -> dict[str, int]:
    """Halo, bytes per pixel of a pointwise stage and channels of a ∞-Diff-family denoiser at ``size``."""
    config = model.config
    channels = config.sparse_channels
    return {
        "halo": model.kernel_size_at(size) // 2,
        "point_bytes": 4 * channels * (8 + 4 * config.mlp_ratio),
        "channels": channels,
    }


def scratch_bytes(model_config: Any, size: tuple[int, int], batch: int) -> int:
    """Disk the out-of-core state of a batch takes: noise, two states and the image (output channels),
    four stage outputs per sparse block (sparse channels), and one plane's float64 spectrum per rank."""
    pixels = size[0] * size[1]
    fields = 4 * model_config.out_channels + 4 * model_config.sparse_blocks * model_config.sparse_channels
    return batch * pixels * 4 * fields + size[0] * (size[1] + 1) * 16


def check_streamable(eta: float, guided: bool) -> None:
    """Out-of-core sampling runs plain DDIM (η = 0) without guidance: a clear error otherwise."""
    if eta != 0.0:
        raise UsageError(
            "out-of-core sampling runs DDIM with eta = 0; set sampling.eta=0 or raise sampling.memory_budget"
        )
    if guided:
        raise UsageError(
            "inpainting and super-resolution run in memory; raise sampling.memory_budget for this size"
        )
