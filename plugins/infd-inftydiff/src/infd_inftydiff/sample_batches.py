"""The sampling loop ∞-Diff and ∞-Brush share: batches of samples, in memory or out of core, into OME-Zarr.

A batch whose in-memory sampling fits ``sampling.memory_budget`` is sampled in memory, and ranks take
disjoint batches. A larger one is sampled out of core (:mod:`infd_inftydiff.streamed_sampling`): every
rank works on each such batch, sharing its tiles; its state lives in ``<first store>.state`` beside the
output (:func:`infd_io.naming.sampling_state_url`) until the images are written, and a resumed run
continues it from its last recorded step.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from infd_core.distributed import barrier, gather_lists
from infd_core.errors import OutputError, UsageError
from infd_core.pipeline import RunContext
from infd_core.preflight import ResourceEstimate, resolve_memory_budget
from infd_inftydiff.sampling import estimate_resources, finished_outputs, to_uint8, write_image
from infd_inftydiff.streamed_sampling import StreamedRun, check_streamable
from infd_io.naming import sample_store_url, sampling_state_url

logger = logging.getLogger(__name__)

#: ``in_memory(indices, generators)``: the batch's images ``[B, C, H, W]`` in [−1, 1]
InMemory = Callable[[list[int], list[torch.Generator]], torch.Tensor]
#: ``streamed(indices, generators, run)``: the batch's images as a ``[B, C, H, W]`` array (not clipped)
Streamed = Callable[[list[int], list[torch.Generator], StreamedRun], Any]


@dataclasses.dataclass
class BatchPlan:
    """How many samples, in batches of what size, and whether those batches are streamed."""

    count: int
    batch_size: int
    chunk: int
    streamed: bool
    memory_budget: int


def plan_batches(model: Any, sampling: Any, size: tuple[int, int], count: int, device: str) -> BatchPlan:
    """Batches of ``sampling.batch_size``, streamed when sampling one in memory exceeds the budget
    (``model``: the denoiser's config; ``sampling``: ∞-Diff's or ∞-Brush's sampling config)."""
    budget = resolve_memory_budget(sampling.memory_budget, device)
    need = estimate_resources(model, size, sampling.batch_size, count, sampling.chunk_points)
    streamed = need.memory_bytes > budget
    if streamed:
        check_streamable(sampling.eta, guided=getattr(sampling, "superres", None) is not None)
        logger.info("%s in memory needs %s, more than the budget: out of core", need.what, need.memory_bytes)
    return BatchPlan(count, sampling.batch_size, sampling.chunk, streamed, budget)


def batches_estimate(
    model: Any, sampling: Any, size: tuple[int, int], count: int, device: str
) -> ResourceEstimate:
    """The memory and disk :func:`sample_batches` will need (in memory, or out of core within the budget)."""
    plan = plan_batches(model, sampling, size, count, device)
    return estimate_resources(
        model, size, sampling.batch_size, count, sampling.chunk_points,
        streamed_budget=plan.memory_budget if plan.streamed else None,
    )  # fmt: skip


def sample_batches(
    ctx: RunContext, out: str, plan: BatchPlan, in_memory: InMemory, streamed: Streamed
) -> list[str]:
    """Sample ``plan.count`` images into ``out`` (a folder, or one ``.zarr`` store for one image)."""
    if out.rstrip("/").endswith(".zarr") and plan.count > 1:
        raise UsageError(f"{out}: one store holds one image; give a folder to write {plan.count} samples")
    dist = ctx.dist
    starts = list(range(0, plan.count, plan.batch_size))
    written: list[str] = []
    for start in starts if plan.streamed else starts[dist.rank :: dist.world_size]:
        indices = list(range(start, min(plan.count, start + plan.batch_size)))
        urls = [out if out.rstrip("/").endswith(".zarr") else sample_store_url(out, i) for i in indices]
        kept = finished_outputs(urls, ctx.provenance)  # a resumed run keeps whole finished batches
        if kept is not None:
            written += kept if dist.is_main or not plan.streamed else []
            continue
        generators = [ctx.generator("sample", i, device="cpu") for i in indices]
        task = f"sample {indices[0] + 1}-{indices[-1] + 1}/{plan.count}" + " (out of core)" * plan.streamed
        if not plan.streamed:
            for url, image in zip(urls, to_uint8(in_memory(indices, generators)), strict=True):
                written += write_image(
                    image, url, plan.chunk, ctx.report_tile_written, dist.rank, ctx.provenance
                )
            continue
        run = StreamedRun(
            sampling_state_url(urls[0]), plan.memory_budget, ctx.provenance, dist.rank, dist.world_size,
            collective=torch.distributed if dist.world_size > 1 else None,
            progress=lambda done, total, step, task=task: ctx.report_progress(task, done, total, step),
        )  # fmt: skip
        try:
            images = streamed(indices, generators, run)
            for b, url in enumerate(urls):
                paths = write_streamed_image(images, b, url, plan.chunk, ctx)
                written += paths if dist.is_main else []
        except OSError as exc:  # e.g. the disk filled up: what is recorded stays for --resume
            reason = exc.strerror or str(exc)
            raise OutputError(f"{run.scratch_url}: {reason}; free space, then rerun with --resume") from None
        barrier()
        if dist.is_main:
            from infd_io.scratch import ScratchStore

            ScratchStore(run.scratch_url).remove()
    return sorted(gather_lists(written))


def write_streamed_image(images: Any, b: int, url: str, chunk: int, ctx: RunContext) -> list[str]:
    """Image ``b`` of a ``[B, C, H, W]`` array into an OME-Zarr store, tiles shared among the ranks,
    and a PNG preview from a coarse level; returns the store and the preview."""
    from infd_io.export import write_preview
    from infd_io.naming import preview_path
    from infd_io.sharded import finalize_shared, open_shared_writer, write_shared

    _, channels, height, width = (int(v) for v in images.shape)
    tile = max(chunk, 64)
    writer = open_shared_writer(
        url, (channels, height, width), "uint8", chunks=min(chunk, tile), tile_size=tile,
        overwrite=ctx.provenance is None, on_tile_written=ctx.report_tile_written, provenance=ctx.provenance,
    )  # fmt: skip

    def pixels(index: Any) -> np.ndarray:
        (top, bottom), (left, right) = writer.tile_bounds(index)
        block = torch.from_numpy(np.asarray(images[b, :, top:bottom, left:right]))
        return to_uint8(block[None])[0]

    write_shared(writer, pixels)
    finalize_shared(writer)
    preview = preview_path(url)
    if ctx.dist.is_main:
        write_preview(url, preview)
    return [url, preview]
