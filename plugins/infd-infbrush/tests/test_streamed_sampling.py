"""Out-of-core ∞-Brush sampling (cross-attention sums and grid splats reduced over streamed tiles, two
guided branches) gives the in-memory sampler's images."""

from __future__ import annotations

import numpy as np
import torch

from infd_infbrush.denoiser import InfBrushDenoiser
from infd_infbrush.model_config import BrushDenoiserConfig
from infd_infbrush.sampling import GuidedGridDenoiser, sample_images
from infd_inftydiff.model_config import GridUNetConfig
from infd_inftydiff.streamed_sampling import StreamedRun, sample_streamed
from infd_measures.discrete import DiscreteSchedule
from infd_measures.mollifier import GaussianMollifier

#: as for ∞-Diff (see its test): ~1e-8 per evaluation, ×1/α_T at the first x̂₀, ×1/(2ε) = 10 by Wiener
TOLERANCE = 5e-4


def test_out_of_core_equals_in_memory_at_256(tmp_path):
    torch.manual_seed(0)
    config = BrushDenoiserConfig(
        train_resolution=32, sparse_channels=8, sparse_blocks=1,
        grid=GridUNetConfig(resolution=8, channels=8),
        condition={"dim": 3, "width": 8},
    )  # fmt: skip
    model = InfBrushDenoiser(config)
    for p in model.parameters():  # the zero-initialised outputs would hide bugs
        torch.nn.init.normal_(p, std=0.1)
    model.eval()
    schedule, mollifier = DiscreteSchedule.cosine(100), GaussianMollifier(1.0, reference_resolution=32)
    with torch.no_grad():
        tokens = model.condition_tokens(torch.tensor([[1.0, 0.0, 0.5]]))
        reference = sample_images(
            model, schedule, mollifier, (256, 256), [torch.Generator().manual_seed(4)], tokens,
            steps=2, guidance_scale=2.0, wiener_epsilon=0.05,
        )  # fmt: skip
    guided = GuidedGridDenoiser(model, schedule, tokens, 2.0)
    images = sample_streamed(
        model, lambda ev, values, time: guided.noise_field(ev, values, time, (256, 256)),
        schedule, mollifier, (256, 256), [torch.Generator().manual_seed(4)], steps=2,
        run=StreamedRun(str(tmp_path / "state"), 2**25), wiener_epsilon=0.05,
    )  # fmt: skip
    streamed = np.clip(np.asarray(images[:]), -1, 1)
    assert reference.std() > 0.1
    assert np.abs(streamed - reference.numpy()).max() < TOLERANCE
