"""A small real pipeline for the core's tests: least-squares regression trained by SGD.

Its data come from the run's derived generators, so training is deterministic; sampling writes the
model's predictions on a grid to a JSON file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from pydantic import Field

from infd_core import ComponentSpec, hookimpl
from infd_core.checkpoints import Checkpoint, flatten_state, unflatten_state
from infd_core.config import StrictModel
from infd_core.pipeline import Pipeline

TRUE_WEIGHT = (2.0, -1.0)
TRUE_BIAS = 0.5


class ToyConfig(StrictModel):
    steps: int = Field(20, ge=1)
    lr: float = Field(0.1, gt=0)
    batch: int = Field(32, ge=1)


class ToyPipeline(Pipeline):
    def __init__(self, config: ToyConfig, context: Any) -> None:
        super().__init__(config, context)
        self.model = torch.nn.Linear(2, 1)
        with torch.no_grad():
            self.model.weight.zero_()
            self.model.bias.zero_()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.step = 0

    def train(self) -> Mapping[str, float]:
        loss = torch.tensor(float("nan"))
        weight = torch.tensor([TRUE_WEIGHT])
        while self.step < self.config.steps:
            generator = self.context.generator("batch", self.step, device="cpu")
            x = torch.randn(self.config.batch, 2, generator=generator)
            y = x @ weight.T + TRUE_BIAS
            loss = torch.mean((self.model(x) - y) ** 2)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.step += 1
            self.context.report_train_step(self.step, self.config.steps, {"loss": loss.item()})
        return {"loss": loss.item()}

    def sample(self, out: str) -> list[str]:
        grid = torch.linspace(-1, 1, self.context.run.sample.size[0] if self.context.run.sample.size else 4)
        x = torch.stack([grid, grid], dim=1)
        with torch.no_grad():
            values = self.model(x).squeeze(1).tolist()
        path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        target = path / "predictions.json"
        target.write_text(json.dumps(values))
        return [str(target)]

    def state(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
        tensors, tree = flatten_state(self.optimizer.state_dict(), "optimizer")
        return {"model": self.model.state_dict(), "optimizer": tensors}, {
            "step": self.step,
            "optimizer": tree,
        }

    def load_state(self, checkpoint: Checkpoint) -> None:
        self.model.load_state_dict(checkpoint.state("model"))
        if "optimizer" in checkpoint.tensors:
            state = unflatten_state(checkpoint.state("optimizer"), checkpoint.meta["optimizer"])
            self.optimizer.load_state_dict(state)
        self.step = int(checkpoint.meta.get("step") or 0)


class ToyPlugin:
    """Registered in-process by the tests."""

    @hookimpl
    def infd_pipelines(self) -> list[ComponentSpec]:
        return [
            ComponentSpec(
                name="toy-regression",
                factory=ToyPipeline,
                config=ToyConfig,
                description="least squares by SGD (core tests)",
                demo="toy_pipeline:demo_config",
            )
        ]


def demo_config() -> dict[str, Any]:
    return {"pipeline": "toy-regression", "config": {"steps": 5}, "output": "toy-demo"}
