"""Run configs: which pipeline, its own config model, seed, device, output, train and sample settings.

A run config file looks like::

    pipeline: inftydiff          # a registered pipeline name
    seed: 0
    device: auto                 # auto | cpu | cuda | cuda:N
    output: runs/ffhq            # folder or fsspec URL for checkpoints, logs and samples
    config: {...}                # validated by the pipeline's own pydantic model
    train: {resume: null}
    sample: {size: [256, 256], num_samples: 4, out: null}

Components inside a pipeline config are named with :class:`ComponentRef` and built through the registry.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from infd_core.config_files import apply_overrides, format_location, load_config_file
from infd_core.devices import validate_device_name
from infd_core.errors import ConfigError, DeviceError, UsageError
from infd_core.registry import Registry


def _not_nan(value: float) -> float:
    if math.isnan(value):
        raise ValueError("NaN is not a value this setting can take")
    return value


#: A float setting for which infinity means something (e.g. GUD's softness: ``.inf`` is standard
#: diffusion): StrictModel refuses infinite floats unless a field is declared with this type; NaN stays
#: an error.
FloatOrInfinity = Annotated[float, Field(allow_inf_nan=True), AfterValidator(_not_nan)]


def _memory_budget(value: str | int) -> str | int:
    from infd_core.preflight import parse_bytes

    if value != "auto":
        try:
            parse_bytes(value)
        except UsageError as exc:
            raise ValueError(str(exc)) from None
    return value


#: Memory a computation may use: ``auto`` (from the machine) or a size (``1536``, ``512MiB``, ``1.5GiB``);
#: :func:`infd_core.preflight.resolve_memory_budget` turns it into bytes.
MemoryBudget = Annotated[
    str | int,
    Field(description="memory the sampler may use: auto (from the machine) or a size such as 1.5GiB"),
    AfterValidator(_memory_budget),
]


class StrictModel(BaseModel):
    """Base for infd config models: unknown keys are errors, and so are infinite or NaN numbers (a
    ``lr: .inf`` is refused when the config is read, not at the first training step)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ComponentRef(StrictModel):
    """A component chosen by name, with the config its registered model validates."""

    name: str
    config: dict[str, Any] = Field(default_factory=dict)


class TrainSettings(StrictModel):
    """What ``infd train`` / ``infd run`` do about training."""

    enabled: bool = True
    resume: str | None = Field(None, description="checkpoint folder or URL to resume training from")
    overwrite: bool = Field(
        False, description="replace an output folder that holds a training run of other settings"
    )


class SampleSettings(StrictModel):
    """What ``infd sample`` / ``infd run`` do about sampling."""

    enabled: bool = True
    checkpoint: str | None = Field(None, description="checkpoint to sample from (default: the run's own)")
    size: list[int] | None = Field(None, description="output size per spatial axis, e.g. [8192, 8192]")
    num_samples: int = Field(1, ge=1)
    out: str | None = Field(None, description="output path or URL (default: <output>/samples)")
    resume: bool = Field(
        False,
        description="continue an interrupted output (kept whole where its settings match; the default "
        "for a rerun of the same settings)",
    )
    overwrite: bool = Field(False, description="replace an output that holds samples of other settings")
    force: bool = Field(
        False, description="sample even where the estimated memory or disk exceeds what the machine has"
    )

    @field_validator("size")
    @classmethod
    def _positive_size(cls, size: list[int] | None) -> list[int] | None:
        if size is not None and (not size or any(s <= 0 for s in size)):
            raise ValueError("every size must be a positive integer")
        return size

    @model_validator(mode="after")
    def _resume_or_overwrite(self) -> SampleSettings:
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite exclude each other: continue the output or replace it")
        return self


class RunConfig(StrictModel):
    """A whole run. ``config`` holds the pipeline's own config model once resolved."""

    pipeline: str
    config: Any = None
    seed: int = Field(0, ge=0)
    device: str = "auto"
    output: str = "runs/infd"
    train: TrainSettings = Field(default_factory=TrainSettings)
    sample: SampleSettings = Field(default_factory=SampleSettings)

    @field_validator("device")
    @classmethod
    def _device_name(cls, name: str) -> str:
        try:
            return validate_device_name(name)
        except DeviceError as exc:
            raise ValueError(str(exc)) from None


def validation_message(exc: ValidationError, prefix: Iterable[Any] = (), source: str = "") -> str:
    """One line naming each offending key path and what is wrong with it."""
    problems = []
    for error in exc.errors():
        where = format_location([*prefix, *error["loc"]])
        message = error["msg"]
        if error["type"] not in ("missing", "extra_forbidden") and "input" in error:
            message += f" (got {error['input']!r})"
        problems.append(f"{where}: {message}")
    head = f"{source}: " if source else ""
    return head + "invalid config: " + "; ".join(problems)


@lru_cache(maxsize=64)
def _run_model_for(config_model: type[BaseModel]) -> type[RunConfig]:
    return create_model(
        f"{config_model.__name__}Run",
        __base__=RunConfig,
        config=(config_model, Field(default_factory=config_model)),
    )


def run_config_model(pipeline: str, registry: Registry) -> type[RunConfig]:
    """The RunConfig subclass whose ``config`` field is the pipeline's model."""
    return _run_model_for(registry.get("pipelines", pipeline).config_model())


def resolve_run_config(data: Mapping[str, Any], registry: Registry, source: str = "") -> RunConfig:
    """Validate a run-config mapping, including the pipeline's own config."""
    pipeline = data.get("pipeline")
    if not isinstance(pipeline, str) or not pipeline:
        head = f"{source}: " if source else ""
        raise ConfigError(f"{head}invalid config: pipeline: a pipeline name is required")
    model = run_config_model(pipeline, registry)
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(validation_message(exc, source=source)) from None


def load_run_config(path: str, registry: Registry, overrides: Iterable[str] = ()) -> RunConfig:
    """Read, override and validate a run config file."""
    data = apply_overrides(load_config_file(path), overrides)
    return resolve_run_config(data, registry, source=str(path))


def build_component(kind: str, ref: ComponentRef, registry: Registry, path: str = "", **kwargs: Any) -> Any:
    """Build the component ``ref`` names; config errors name ``path`` (e.g. ``config.schedule``)."""
    spec = registry.get(kind, ref.name)
    try:
        config = spec.config_model().model_validate(ref.config)
    except ValidationError as exc:
        prefix = [*(p for p in path.split(".") if p), "config"]
        raise ConfigError(validation_message(exc, prefix=prefix)) from None
    return spec.load_factory()(config, **kwargs)


def config_schema(name: str, registry: Registry, kind: str | None = None) -> dict[str, Any]:
    """JSON schema of a pipeline's whole run config, or of any component's config model."""
    if kind in (None, "pipelines") and ("pipelines", name) in registry:
        return run_config_model(name, registry).model_json_schema()
    if kind is not None:
        return registry.get(kind, name).config_model().model_json_schema()
    matches = registry.find(name)
    if not matches:
        registry.get("pipelines", name)  # raises, listing the pipelines
    if len(matches) > 1:
        kinds = ", ".join(s.kind for s in matches)
        raise ConfigError(f"{name!r} names components of several kinds ({kinds}); pass --kind")
    return matches[0].config_model().model_json_schema()


def dump_run_config(config: RunConfig) -> dict[str, Any]:
    """A JSON-ready mapping of a resolved run config."""
    return config.model_dump(mode="json")
