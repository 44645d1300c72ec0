"""Infinite extension: strips 8x and 32x the training width stream to OME-Zarr in bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import zarr
from gud_helpers import build_pipeline

TRAIN_WIDTH = 8
RSS_GROWTH_LIMIT_KIB = 16 * 1024  # the longer strip may not raise the peak by more than 16 MiB


def _stream(tmp_path: Path, width: int) -> dict:
    here = Path(__file__).parent
    env = dict(
        os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(here) + os.pathsep + os.environ.get("PYTHONPATH", "")
    )
    out = tmp_path / f"w{width}"
    result = subprocess.run([sys.executable, str(here / "strip_memory_job.py"), str(out), str(width)],
                            capture_output=True, text=True, env=env, timeout=300, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    image = zarr.open_group(report["url"], mode="r")["0"]
    assert image.shape == (3, TRAIN_WIDTH, width)
    pixels = np.asarray(image[:])
    assert pixels.std() > 0 and (pixels[..., -4:] != 0).any()  # written to the very end
    return report


def test_strip_memory_independent_of_length(tmp_path) -> None:
    short = _stream(tmp_path, 8 * TRAIN_WIDTH)
    long = _stream(tmp_path, 32 * TRAIN_WIDTH)
    growth_short = short["after"] - short["before"]
    growth_long = long["after"] - long["before"]
    assert growth_long - growth_short < RSS_GROWTH_LIMIT_KIB, (short, long)
    assert long["after"] - short["after"] < RSS_GROWTH_LIMIT_KIB, (short, long)


def test_completion_keeps_given_columns(tmp_path) -> None:
    pipeline = build_pipeline(str(tmp_path / "run"), basis={"name": "pixel"}, schedule={"name": "columnwise"},
                              data={"resolution": 8, "fit_items": 32}, training={"steps": 1},
                              extension={"completion": True, "given_columns": 3},
                              likelihood={"enabled": False})  # fmt: skip
    pipeline.train()
    paths = pipeline.sample(str(tmp_path / "samples"))
    assert any(p.endswith("completion.png") for p in paths)
    from infd_gud.extension import complete_image

    image = pipeline.images(1, seed_offset=2)[0]
    done = complete_image(pipeline.model(), pipeline.space, pipeline.space.schedule(), image, 3, steps=3,
                          generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert done.shape == image.shape
    assert torch.allclose(done[..., :3], image[..., :3], atol=1e-5)


def test_sample_writes_the_strip_and_its_preview(tmp_path) -> None:
    from PIL import Image

    pipeline = build_pipeline(str(tmp_path / "run"), basis={"name": "pixel"}, schedule={"name": "columnwise"},
                              data={"resolution": 8, "fit_items": 32}, training={"steps": 1},
                              extension={"enabled": True, "width": 40, "columns": 2, "tile_size": 16},
                              likelihood={"enabled": False})  # fmt: skip
    pipeline.train()
    folder = tmp_path / "samples"
    assert pipeline.sample(str(folder)) == [str(folder / "strip.zarr"), str(folder / "strip.png")]
    strip = np.asarray(zarr.open_group(str(folder / "strip.zarr"), mode="r")["0"])
    assert strip.shape == (3, 8, 40)
    preview = np.asarray(Image.open(folder / "strip.png").convert("RGB"))
    np.testing.assert_array_equal(preview, strip.transpose(1, 2, 0))  # small strips: level 0 as it is


def test_the_configured_sampler_denoises_every_window(tmp_path) -> None:
    from infd_gud.extension import stream_strip
    from infd_samplers import reverse_sde

    pipeline = build_pipeline(str(tmp_path / "run"), basis={"name": "pixel"}, schedule={"name": "columnwise"},
                              data={"resolution": 8, "fit_items": 32}, training={"steps": 1},
                              likelihood={"enabled": False})  # fmt: skip
    pipeline.train()
    calls = []

    def spy(*args, **kwargs):
        calls.append(args[3])  # the window's time grid
        return reverse_sde(*args, **kwargs)

    stream_strip(pipeline.model(), pipeline.space, pipeline.space.schedule(), str(tmp_path / "s.zarr"),
                 width=40, columns=2, steps_per_window=3, generator=torch.Generator().manual_seed(0),
                 sampler=spy)  # fmt: skip
    windows = 1 + (40 - 8) // 2
    assert len(calls) == 1 + windows + 1  # noise -> window time, each window, the last one -> 0
    assert calls[0][0] == 1.0 and calls[-1][-1] == 0.0


@pytest.mark.parametrize("sampler", ["sde", "ddim", "ode"])
def test_each_strip_sampler_runs_from_the_config(tmp_path, sampler) -> None:
    pipeline = build_pipeline(str(tmp_path / "run"), basis={"name": "pixel"}, schedule={"name": "columnwise"},
                              data={"resolution": 8, "fit_items": 32}, training={"steps": 1},
                              extension={"enabled": True, "width": 24, "columns": 2, "sampler": sampler},
                              likelihood={"enabled": False})  # fmt: skip
    pipeline.train()
    pipeline.sample(str(tmp_path / "samples"))
    strip = np.asarray(zarr.open_group(str(tmp_path / "samples" / "strip.zarr"), mode="r")["0"])
    assert strip.shape == (3, 8, 24)
