"""∞-Brush's `preset: paper` against the README's table, and eq. 14's λ_t against its closed form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from infd_infbrush.config import InfBrushConfig
from infd_infbrush.training import eq14_weights
from infd_inftydiff.presets import preset_table
from infd_measures.discrete import DiscreteSchedule

README = Path(__file__).parents[1] / "README.md"


def value_at(config: Any, path: str) -> Any:
    for key in path.split("."):
        config = getattr(config, key)
    return json.loads(json.dumps(config))


def test_paper_and_tiny_presets_equal_the_readme_table():
    rows = preset_table(README.read_text())
    assert len(rows) >= 15 and "diffusion.loss_weighting" in rows and "optim.betas" in rows
    paper, tiny = InfBrushConfig.model_validate({"preset": "paper"}), InfBrushConfig()
    for path, (paper_value, preset_value, tiny_value) in rows.items():
        assert preset_value == paper_value, f"{path}: the preset column differs from the paper's value"
        assert value_at(paper, path) == paper_value, path
        assert value_at(tiny, path) == tiny_value, path


def test_eq14_weights_follow_the_closed_form_step_by_step():
    schedule = DiscreteSchedule.linear(50, 1e-3, 0.05)
    weights = eq14_weights(schedule)
    raw = []
    bar = 1.0
    betas = schedule.betas.tolist()
    for t, beta in enumerate(betas, start=1):
        previous, bar = bar, bar * (1 - beta)
        if t == 1:  # β̃_1 = 0: clipped to β̃_2
            posterior = betas[1] * (1 - bar) / (1 - bar * (1 - betas[1]))
        else:
            posterior = beta * (1 - previous) / (1 - bar)
        raw.append(beta**2 / (2 * posterior * (1 - beta) * (1 - bar)))
    expected = torch.tensor(raw, dtype=torch.float64)
    torch.testing.assert_close(weights[1:], expected / expected.mean())
    assert weights[0] == 0


def test_the_training_loss_weights_each_sample_by_its_lambda_t():
    from infd_infbrush.denoiser import InfBrushDenoiser
    from infd_infbrush.model_config import BrushDenoiserConfig
    from infd_infbrush.training import BrushTrainingLoss
    from infd_inftydiff import TrainingBatch
    from infd_sparse import CoordinateBatch

    torch.manual_seed(0)
    model = InfBrushDenoiser(BrushDenoiserConfig(train_resolution=8, condition={"dim": 2}))
    torch.nn.init.normal_(model.head.weight, std=0.5)
    g = torch.Generator().manual_seed(1)
    points = CoordinateBatch.random(2, (8, 8), 2, g)
    noisy, target = torch.randn(2, points.num_points, 3, generator=g)
    batch = TrainingBatch(points, noisy, target, torch.tensor([0.2, 0.9]))
    weights = eq14_weights(DiscreteSchedule.cosine(1000))
    condition = torch.eye(2)
    with torch.no_grad():
        weighted = BrushTrainingLoss(model, amp=False, weights=weights)(batch, condition, None)
        error = (model(batch.noisy, points, batch.t, model.condition_tokens(condition)) - batch.target) ** 2
    per_point = weights[torch.tensor([200, 900])].float()[points.batch]
    torch.testing.assert_close(weighted, (error * per_point[:, None]).mean())
    assert not torch.isclose(weighted, error.mean())
