"""Out-of-core sampling: the state streamed through a zarr store gives the in-memory sampler's images,
resumes from its step records, and refuses nothing silently."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from infd_inftydiff.denoiser import InftyDiffDenoiser
from infd_inftydiff.model_config import DenoiserConfig, GridUNetConfig
from infd_inftydiff.sampling import sample_images
from infd_inftydiff.streamed_sampling import StreamedRun, streamed_mollified_ddim, streaming_geometry
from infd_measures.discrete import DiscreteSchedule
from infd_measures.mollifier import GaussianMollifier

#: images in [−1, 1]. One denoiser evaluation agrees to ~1e-8 (tile sums, FFT sizes); the first step's
#: x̂₀ divides it by α_T ≈ 5e-4 (cosine schedule) and the Wiener inverse multiplies by at most
#: 1/(2ε) = 10 at the paper's ε = 0.05: ~2e-4 at worst (measured: 1.5e-4 with 16² tiles).
TOLERANCE = 5e-4
SCHEDULE = DiscreteSchedule.cosine(100)
MOLLIFIER = GaussianMollifier(1.0, reference_resolution=32)
WIENER = 0.05


def _model(latent_dim: int = 0) -> InftyDiffDenoiser:
    torch.manual_seed(0)
    config = DenoiserConfig(
        train_resolution=32, sparse_blocks=2, sparse_channels=8, latent_dim=latent_dim,
        grid=GridUNetConfig(resolution=8, channels=8, channel_mult=[1], attention_resolutions=[], groups=4),
    )  # fmt: skip
    model = InftyDiffDenoiser(config)
    for p in model.parameters():  # the zero-initialised head would hide bugs
        torch.nn.init.normal_(p, std=0.1)
    return model.eval()


def _streamed(model, size, seeds, url, budget, latent=None, steps=2, **run):
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    return streamed_mollified_ddim(
        lambda ev, values, time: model.evaluate(ev, values, time, size, latent),
        SCHEDULE, MOLLIFIER, (3, *size), 32, generators, steps=steps, wiener_epsilon=WIENER,
        run=StreamedRun(str(url), budget, {"seed": list(seeds)}, **run), **streaming_geometry(model, size),
    )  # fmt: skip


def _in_memory(model, size, seeds, latent=None, steps=2):
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    with torch.no_grad():
        return sample_images(
            model, SCHEDULE, MOLLIFIER, size, generators, steps=steps, latent=latent, wiener_epsilon=WIENER
        )


def test_out_of_core_equals_in_memory_at_256(tmp_path):
    """Two images of 256², 4 tiles per pointwise pass, one channel at a time: the in-memory images."""
    model = _model(latent_dim=4)
    latent = torch.randn(2, 4, generator=torch.Generator().manual_seed(3))
    reference = _in_memory(model, (256, 256), [0, 1], latent)
    images = _streamed(model, (256, 256), [0, 1], tmp_path / "state", 2**26, latent)
    streamed = torch.from_numpy(np.asarray(images[:])).clamp(-1, 1)
    assert reference.std() > 0.1
    assert (streamed - reference).abs().max() < TOLERANCE
    record = json.loads((tmp_path / "state" / "progress.json").read_text())
    assert record["done"] == record["steps"] == 2 and record["image"]


def test_a_budget_too_small_for_one_tile_still_samples_a_rectangle(tmp_path):
    model = _model()
    reference = _in_memory(model, (24, 40), [5])
    streamed = np.asarray(_streamed(model, (24, 40), [5], tmp_path / "s", 2**16)[:])
    assert np.abs(np.clip(streamed, -1, 1) - reference.numpy()).max() < TOLERANCE


def test_a_resume_continues_from_the_recorded_step_bit_for_bit(tmp_path, monkeypatch):
    """A run stopped after one of three steps resumes from its record: the same array, to the bit."""
    model = _model()
    whole = np.asarray(_streamed(model, (64, 64), [2], tmp_path / "whole", 2**25, steps=3)[:])
    calls = {"count": 0}

    def stop_after_first_step(point: str) -> None:
        if point == "streamed-step":
            calls["count"] += 1
            if calls["count"] == 1:
                raise KeyboardInterrupt  # as a kill between steps would

    import infd_inftydiff.streamed_sampling as streamed_sampling

    monkeypatch.setattr(streamed_sampling, "fault_point", stop_after_first_step)
    with pytest.raises(KeyboardInterrupt):
        _streamed(model, (64, 64), [2], tmp_path / "cut", 2**25, steps=3)
    assert json.loads((tmp_path / "cut" / "progress.json").read_text())["done"] == 1
    resumed = np.asarray(_streamed(model, (64, 64), [2], tmp_path / "cut", 2**25, steps=3)[:])
    assert calls["count"] == 3  # the resumed run took steps 2 and 3 only
    np.testing.assert_array_equal(resumed, whole)


def test_a_state_of_other_settings_is_not_resumed(tmp_path):
    """A record made with another seed starts afresh (the output store's own record refuses the run)."""
    model = _model()
    first = np.asarray(_streamed(model, (48, 48), [0], tmp_path / "s", 2**25)[:]).copy()
    other = np.asarray(_streamed(model, (48, 48), [1], tmp_path / "s", 2**25)[:])
    assert np.abs(other - first).max() > 0.1
    np.testing.assert_array_equal(
        other, np.asarray(_streamed(model, (48, 48), [1], tmp_path / "t", 2**25)[:])
    )
