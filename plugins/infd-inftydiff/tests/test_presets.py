"""`preset: paper` against the paper's setup as the README's table transcribes it (App. A, §5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_runs import run_infd

from infd_inftydiff import GridUNetConfig, InftyDiffConfig
from infd_inftydiff.grid_unet import GridUNet, ResBlock
from infd_inftydiff.presets import preset_table

README = Path(__file__).parents[1] / "README.md"


def value_at(config: Any, path: str) -> Any:
    """The JSON value of a dotted path of a config (tuples as lists)."""
    for key in path.split("."):
        config = config[key] if isinstance(config, dict) else getattr(config, key)
    return json.loads(json.dumps(config))


def test_paper_and_tiny_presets_equal_the_readme_table():
    rows = preset_table(README.read_text())
    assert len(rows) >= 25 and "optim.lr" in rows and "model.grid.dropout_resolutions" in rows
    paper, tiny = InftyDiffConfig.model_validate({"preset": "paper"}), InftyDiffConfig()
    for path, (paper_value, preset_value, tiny_value) in rows.items():
        assert preset_value == paper_value, f"{path}: the preset column differs from the paper's value"
        assert value_at(paper, path) == paper_value, path
        assert value_at(tiny, path) == tiny_value, path


def test_explicit_keys_win_over_the_paper_preset_key_by_key():
    config = InftyDiffConfig.model_validate(
        {"preset": "paper", "optim": {"lr": 1e-4}, "data": {"resolution": 64}, "model": {"latent_dim": 0}}
    )
    assert config.optim.lr == 1e-4 and config.optim.ema_decay == 0.995  # the rest of the section stays
    assert config.data.resolution == config.model.train_resolution == 64 and config.data.batch_size == 32
    assert config.model.latent_dim == 0 and config.model.interpolation == "knn"


def test_config_show_prints_the_papers_values(tmp_path, capsys):
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump({"pipeline": "inftydiff", "config": {"preset": "paper"}}))
    capsys.readouterr()
    run_infd("config", "show", str(path))
    shown = json.loads(capsys.readouterr().out)
    for dotted, (paper_value, _, _) in preset_table(README.read_text()).items():
        assert value_at(shown["config"], dotted) == paper_value, dotted


@pytest.mark.parametrize("where", [[8], None])
def test_dropout_only_at_the_chosen_grid_sides(where):
    config = GridUNetConfig(
        resolution=16, channels=8, channel_mult=[1, 2, 2], attention_resolutions=[], dropout=0.1,
        dropout_resolutions=where, groups=4,
    )  # fmt: skip
    unet = GridUNet(config, 4, 4, 16)
    sides = []
    for part, start in ((unet.down, 16), (unet.middle, 4), (unet.up, 4)):
        side = start
        for block in part:
            layers = block if isinstance(block, type(unet.down)) else [block]
            for layer in layers:
                if isinstance(layer, ResBlock):
                    sides.append((side, layer.dropout.p))
                elif getattr(layer, "stride", (1,)) == (2, 2):
                    side //= 2
                elif layer.__class__.__name__ == "Upsample":
                    side *= 2
    expected = {s: (0.1 if where is None or s in where else 0.0) for s, _ in sides}
    assert sides and all(p == expected[s] for s, p in sides)
    assert {s for s, _ in sides} == {16, 8, 4}
