"""Sampling ∞-Diff at any resolution, inpainting, and writing images to OME-Zarr with a PNG preview.

The state is the grid ``[B, C, H, W]`` at the output resolution. The model sees every pixel as a
coordinate set (kernels resized to the resolution); it predicts the mollified noise Tξ, so DDIM runs in
mollified space with fresh noise passed through T, ends at T x₀, and the Wiener filter undoes T.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from infd_core import draws
from infd_core.errors import UsageError
from infd_core.preflight import ResourceEstimate
from infd_inftydiff.denoiser import InftyDiffDenoiser
from infd_measures.discrete import DiscreteSchedule
from infd_measures.mollifier import GaussianMollifier
from infd_samplers import ddim
from infd_samplers.progress import StepCallback
from infd_sparse import resized_kernel_size
from infd_sparse.evaluation import DEFAULT_TILE_POINTS

logger = logging.getLogger(__name__)


def x0_from_noise(
    schedule: DiscreteSchedule, x: torch.Tensor, noise: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """x̂₀ = (x_t − σ_t Tξ̂)/α_t clipped to [−1, 1] (``t``: the step of each sample, ``[B]``)."""
    alpha = schedule.alpha(t.cpu()).to(x).reshape(-1, 1, 1, 1)
    sigma = schedule.sigma(t.cpu()).to(x).reshape(-1, 1, 1, 1)
    return ((x - sigma * noise) / alpha).clamp(-1.0, 1.0)


class GridDenoiser:
    """The point-based model as an x₀-denoiser of grid states ``[B, C, H, W]`` (every pixel a point).

    Every pixel is evaluated tile by tile (:class:`infd_sparse.evaluation.GridTiles`, at most
    ``tile_points`` pixels a tile plus its halo) with dense kernels, so a step costs O(N log N) and its
    extra memory is bounded by the tiles and a few ``[N, C]`` feature maps, whatever the kernel size.
    The model predicts Tξ; the implied estimate T x̂₀ = (x_t − σ_t Tξ̂)/α_t is clipped to the data range
    [−1, 1] (T averages, so T x₀ stays in that range), as DDPM/DDIM image samplers do: near t = T,
    α_t is tiny and an unclipped estimate amplifies every error of ε̂ by 1/α_t.
    """

    def __init__(
        self,
        model: InftyDiffDenoiser,
        schedule: DiscreteSchedule,
        latent: torch.Tensor | None = None,
        tile_points: int = DEFAULT_TILE_POINTS,
    ) -> None:
        self.model = model
        self.schedule = schedule
        self.latent = latent
        self.tile_points = tile_points

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tiles = self.model.grid_tiles(b, (h, w), self.tile_points, x.device)
        values = x.permute(0, 2, 3, 1).reshape(-1, c)
        time = t.to(torch.float32) / self.schedule.num_steps
        noise = self.model.evaluate(tiles, values, time, (h, w), self.latent)
        return x0_from_noise(self.schedule, x, noise.reshape(b, h, w, c).permute(0, 3, 1, 2), t)


def estimate_resources(
    model: Any,
    size: tuple[int, int],
    batch_size: int,
    num_samples: int,
    tile_points: int,
    streamed_budget: int | None = None,
) -> ResourceEstimate:
    """Peak memory and disk of sampling ``num_samples`` images of ``size`` in batches of ``batch_size``.

    ``model`` is the denoiser's config (∞-Diff's or ∞-Brush's). Float32 throughout: the DDIM state and
    its temporaries (~10 copies of ``[B, C, H, W]``), a few sparse-level feature maps ``[N, c]``, one
    tile with its halo and its MLP activations, the Wiener inverse's float64 planes of the symmetrically
    extended image, and a fixed 600 MiB for the interpreter, torch and the model. Disk: uint8 OME-Zarr
    level 0 plus its pyramid (≤ 1/3 more), uncompressed. Out of core (``streamed_budget``), the memory
    is that budget and the disk holds one batch's state besides.
    """
    height, width = size
    pixels = height * width
    batch = min(batch_size, num_samples)
    channels, features = model.out_channels, model.sparse_channels
    halo = resized_kernel_size(model.kernel_size, max(size) / model.train_resolution) // 2
    side = max(1, int((tile_points / batch) ** 0.5))
    tile = batch * (min(height, side) + 2 * halo) * (min(width, side) + 2 * halo)
    state = 10 * batch * channels * pixels * 4
    evaluation = 5 * batch * pixels * features * 4 + tile * features * 4 * (4 + 2 * model.mlp_ratio)
    wiener = 4 * (4 * pixels) * 8
    memory = 600 * 2**20 + state + max(evaluation, wiener)
    disk = num_samples * channels * pixels * 4 // 3
    what = f"{num_samples} image{'s' * (num_samples > 1)} of {channels}×{height}×{width}"
    if streamed_budget is not None:
        from infd_inftydiff.streamed_sampling import scratch_bytes

        disk += scratch_bytes(model, size, batch)
        return ResourceEstimate(streamed_budget, disk, what + " (out of core)")
    return ResourceEstimate(memory, disk, what)


def scaled_mollified_noise(mollifier: GaussianMollifier, scale: float) -> Any:
    """Fresh noise T(scale · ξ) for samplers, ξ white (see :func:`sample_images` for the scale)."""

    def draw(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        white = draws.randn(like.shape, generator, dtype=like.dtype, device=like.device)
        return mollifier.apply(scale * white, method="auto")

    return draw


def check_size(size: Sequence[int] | None, default: int) -> tuple[int, int]:
    """``(H, W)`` from ``[S]`` or ``[H, W]`` (default: the training resolution)."""
    if size is None:
        return default, default
    if len(size) == 1:
        size = [size[0], size[0]]
    if len(size) != 2 or any(int(s) < 4 for s in size):
        raise UsageError(f"∞-Diff samples 2-D images of at least 4×4 pixels, got size {list(size)}")
    return int(size[0]), int(size[1])


def sample_images(
    model: InftyDiffDenoiser,
    schedule: DiscreteSchedule,
    mollifier: GaussianMollifier,
    size: tuple[int, int],
    generators: list[torch.Generator],
    *,
    steps: int,
    eta: float = 0.0,
    wiener_epsilon: float = 1e-3,
    callback: StepCallback | None = None,
    latent: torch.Tensor | None = None,
    guidance: Any = None,
    device: torch.device | str = "cpu",
    tile_points: int = DEFAULT_TILE_POINTS,
    start: StartImage | None = None,
) -> torch.Tensor:
    """Images ``[B, C, H, W]`` in [−1, 1], one per generator (each sample depends on its generator only);
    with ``start``, from that image noised to its time instead of from pure noise."""
    return mollified_ddim(
        GridDenoiser(model, schedule, latent, tile_points),
        schedule,
        mollifier,
        (model.config.out_channels, *size),
        model.config.train_resolution,
        generators,
        steps=steps,
        eta=eta,
        wiener_epsilon=wiener_epsilon,
        callback=callback,
        guidance=guidance,
        device=device,
        start=start,
    )


@dataclasses.dataclass(frozen=True)
class StartImage:
    """Start DDIM from ``image [B, C, H, W]`` (in [−1, 1]) noised to step ``t`` of the schedule (SDEdit
    style: x_t = √ᾱ_t T x + √(1 − ᾱ_t) T ξ), running about ``t / T`` of the sampling steps."""

    image: torch.Tensor
    t: int

    def grid(self, steps: int, num_steps: int) -> list[int]:
        """The integer DDIM grid from ``t`` down to 0 with the share of ``steps`` its span covers."""
        if not 1 <= self.t <= num_steps:
            raise UsageError(f"the start step must lie in [1, {num_steps}], got {self.t}")
        count = max(1, min(self.t, round(steps * self.t / num_steps)))
        return [(self.t * (count - i) + count // 2) // count for i in range(count + 1)]


def white_noise_scale(height: int, width: int, train_resolution: int) -> float:
    """The standard deviation of white noise on an ``height × width`` grid for a model trained at
    ``train_resolution``: white noise is a measure on the image domain, so on a grid k times finer per
    axis each pixel covers 1/k² of the area and its discretisation has k times the standard deviation;
    after T (whose kernel also widens by k) Tξ has the per-pixel statistics the model saw in training."""
    return math.sqrt(height * width) / train_resolution


def mollified_ddim(
    denoiser: Any,
    schedule: DiscreteSchedule,
    mollifier: GaussianMollifier,
    shape: tuple[int, int, int],
    train_resolution: int,
    generators: list[torch.Generator],
    *,
    steps: int,
    eta: float = 0.0,
    wiener_epsilon: float = 1e-3,
    callback: StepCallback | None = None,
    guidance: Any = None,
    device: torch.device | str = "cpu",
    start: StartImage | None = None,
) -> torch.Tensor:
    """DDIM in the mollified space at any size, then the Wiener inverse of T: ``[B, *shape]`` in [−1, 1].

    ``denoiser(x_t, t)`` predicts x̂₀ of mollified images ``[B, C, H, W]`` (``shape`` = (C, H, W));
    ``train_resolution`` is the side the model was trained at, which sets the noise scale.
    """
    channels, height, width = shape
    scale = white_noise_scale(height, width, train_resolution)
    white = [draws.randn((channels, height, width), g, device=device) for g in generators]
    x_t = mollifier.apply(scale * torch.stack(white), method="auto")  # x_T ~ N(0, T T*) (ᾱ_T ≈ 0)
    grid: Any = steps
    if start is not None:  # the image noised to t_s: √ᾱ T x + √(1 − ᾱ) T ξ
        alpha, sigma = schedule.alpha(start.t).to(x_t), schedule.sigma(start.t).to(x_t)
        x_t = alpha * mollifier.apply(start.image.to(x_t), method="auto") + sigma * x_t
        grid = start.grid(steps, schedule.num_steps)
    with torch.no_grad() if guidance is None else torch.enable_grad():
        mollified = ddim(
            denoiser,
            x_t,
            schedule,
            grid,
            generator=generators,
            eta=eta,
            parameterisation="x0",
            noise=scaled_mollified_noise(mollifier, scale),
            callback=callback,
            guidance=guidance,
        )
    return mollifier.wiener_inverse(mollified.detach(), wiener_epsilon).clamp(-1.0, 1.0)


def load_image(path: str, channels: int) -> torch.Tensor:
    """An image file (local path or fsspec URL) as ``[1, C, H, W]`` in [−1, 1] (masks: ``channels=1``)."""
    from infd_core.outputs import filesystem
    from infd_io.images import ImageReadError, read_image

    fs, location = filesystem(path)
    try:
        pixels = read_image(fs, location, channels)
    except ImageReadError as exc:
        raise UsageError(f"{path}: not a readable image ({exc})") from None
    return torch.from_numpy(pixels)[None] * 2 - 1


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``[B, C, H, W]`` in [−1, 1] to uint8 arrays."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


def finished_outputs(urls: list[str], provenance: Mapping[str, Any] | None) -> list[str] | None:
    """The stores and previews of ``urls`` when every store is complete and recorded with
    ``provenance`` (a resumed run need not sample them again), else None."""
    from infd_io.naming import preview_path
    from infd_io.store_info import is_finished_store

    if provenance is None or not all(is_finished_store(url, provenance) for url in urls):
        return None
    logger.info("kept %d finished sample(s): %s", len(urls), ", ".join(urls))
    return [path for url in urls for path in (url, preview_path(url))]


def write_image(
    image: np.ndarray,
    url: str,
    chunk: int,
    on_tile_written: Callable[[Any], None] | None = None,
    rank: int = 0,
    provenance: Mapping[str, Any] | None = None,
) -> list[str]:
    """Write one ``(C, H, W)`` uint8 image as OME-Zarr (tile by tile) plus a PNG preview beside it.

    With ``provenance`` (the run's fingerprint) an interrupted store of the same fingerprint keeps its
    finished tiles and another run's store is refused; without it the store is replaced."""
    from infd_io.export import write_preview
    from infd_io.naming import preview_path
    from infd_io.writer import TiledWriter

    channels, height, width = image.shape
    tile = max(chunk, 64)
    writer = TiledWriter(
        url, (channels, height, width), "uint8", chunks=min(chunk, tile), tile_size=tile,
        overwrite=provenance is None, on_tile_written=on_tile_written, rank=rank, provenance=provenance,
    )  # fmt: skip
    writer.write_array(image)
    preview = preview_path(url)
    write_preview(url, preview)
    return [url, preview]
