"""The README's table paper · preset · tiny default holds: each row's preset and tiny columns are the
configs' values, and where the paper states a value the preset equals it. The network sees the state in
image space (App. B)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from gud_helpers import build_pipeline

from infd_gud.config import GudConfig

README = Path(__file__).resolve().parents[1] / "README.md"
NOT_STATED = "—"


def parse(cell: str) -> Any:
    """A table cell's value: its text before any parenthesised note, read as YAML."""
    text = re.split(r" \(", cell.strip(), maxsplit=1)[0].strip().strip("`")
    if text == NOT_STATED:
        return NOT_STATED
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def lookup(config: GudConfig, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return list(value) if isinstance(value, tuple) else value


def table_rows() -> list[list[str]]:
    text = README.read_text()
    section = text.split("## Paper preset", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) >= 15, "the preset table lost rows"
    return rows


@pytest.mark.parametrize("row", table_rows(), ids=lambda row: row[0].strip().strip("`"))
def test_preset_table_holds(row: list[str]) -> None:
    key, paper, preset, tiny = (cell.strip() for cell in row)
    key = key.strip("`")
    assert lookup(GudConfig.model_validate({"preset": "paper"}), key) == parse(preset), key
    assert lookup(GudConfig(), key) == parse(tiny), key
    if parse(paper) != NOT_STATED:
        assert parse(paper) == parse(preset), f"{key}: the preset differs from the paper"


def test_explicit_keys_override_the_preset() -> None:
    config = GudConfig.model_validate({"preset": "paper", "network": {"base_channels": 32}})
    assert config.network.base_channels == 32 and config.network.res_blocks == 4
    assert config.training.batch_size == 128


def test_paper_network_builds_and_runs() -> None:
    from infd_gud.network import GammaUNet

    config = GudConfig.model_validate({"preset": "paper"})
    with torch.device("meta"):  # shapes only: no weights are initialised
        labels = torch.rand(32 * 32, 2)
        network = GammaUNet.from_config(config.network, image_channels=3, shape=(32, 32), labels=labels)
        out = network.eval()(torch.randn(1, 3, 32, 32), torch.randn(1, 32 * 32))
    assert sorted(network.self_attn) == sorted(f"{p}1_{j}" for p in ("down", "up") for j in range(4))
    assert out.shape == (1, 3, 32, 32)


@pytest.mark.parametrize("mode", ["image", "whitened"])
def test_network_input_is_the_state_in_image_space(tmp_path, mode: str) -> None:
    pipeline = build_pipeline(str(tmp_path / mode), basis={"name": "pca"}, prior={"kind": "data"},
                              training={"steps": 0}, network={"input": mode},
                              data={"resolution": 8, "fit_items": 64})  # fmt: skip
    pipeline.train()
    seen: list[torch.Tensor] = []
    network = pipeline.model().network
    network.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    fit = pipeline.images(64)
    x = pipeline.images(2, seed_offset=1)
    z = pipeline.space.encode(x)
    pipeline.model()(z, torch.zeros(2, 64))
    centred = x - fit.mean(dim=0)  # App. B: the data less its empirical mean, in image space
    if mode == "image":
        torch.testing.assert_close(seen[0], centred, atol=1e-4, rtol=1e-4)
    else:  # Uᵀ z: the whitened state laid out as an image (U orthogonal)
        assert not torch.allclose(seen[0], centred, atol=1e-2)
        torch.testing.assert_close(pipeline.space.basis.to_components(seen[0]), z, atol=1e-4, rtol=1e-4)
