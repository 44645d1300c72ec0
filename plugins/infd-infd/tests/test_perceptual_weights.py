"""The README's recipe for perceptual weights runs on locally made files in torchvision's and LPIPS's
layouts and INFD loads exactly those tensors; without weights, ``infd train`` says once (log, training
log, checkpoint metadata) that the perceptual term is off."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import torch
from helpers import run_infd, write_config

from infd_core.checkpoints import load_checkpoint
from infd_infd.config import PerceptualConfig
from infd_infd.perceptual import build_perceptual

README = Path(__file__).resolve().parents[1] / "README.md"
LPIPS_WIDTHS = (64, 128, 256, 512, 512)


def readme_recipe() -> str:
    section = README.read_text().split("### Perceptual weights from local files", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README lost its recipe"
    return match.group(1)


def test_readme_recipe_converts_torchvision_and_lpips_files(tmp_path, monkeypatch) -> None:
    from torchvision.models import vgg16

    with torch.device("meta"):  # torchvision's names and shapes, without initialising 14.7M weights
        shapes = {
            k: v.shape for k, v in vgg16(weights=None).state_dict().items() if k.startswith("features.")
        }
    generator = torch.Generator().manual_seed(0)
    features = {k: torch.randn(shape, generator=generator) for k, shape in shapes.items()}
    vgg = {**features, "classifier.6.bias": torch.zeros(1000)}  # torchvision's file also holds the classifier
    heads = {
        f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=generator)
        for k, c in enumerate(LPIPS_WIDTHS)
    }
    torch.save(vgg, tmp_path / "vgg16-397923af.pth")
    torch.save(heads, tmp_path / "vgg.pth")
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_recipe(), "README.md", "exec"), {})  # our own README's code
    loss = build_perceptual(PerceptualConfig(weights=str(tmp_path / "vgg16-lpips.safetensors")))
    assert loss is not None
    for index in (0, 28):
        torch.testing.assert_close(loss.features[index].weight, features[f"features.{index}.weight"])
    for k in range(5):
        torch.testing.assert_close(loss.lin[k].data, heads[f"lin{k}.model.1.weight"])


def test_training_without_weights_says_once_that_the_term_is_off(tmp_path, caplog) -> None:
    config = write_config(tmp_path / "run.yaml", tmp_path / "out", optim={"steps": 2, "log_every": 1},
                          latent={"steps": 1})  # fmt: skip
    with caplog.at_level(logging.WARNING):
        run_infd("train", str(config))
    warnings = [r for r in caplog.records if "perceptual loss is off" in r.getMessage()]
    assert len(warnings) == 1
    records = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()]
    notices = [r for r in records if r["stage"] == "notice"]
    assert len(notices) == 1 and notices[0]["perceptual"].startswith("off: loss.perceptual.weights is unset")
    meta = load_checkpoint(str(tmp_path / "out" / "checkpoint")).meta
    assert meta["perceptual_loss"] == notices[0]["perceptual"]
