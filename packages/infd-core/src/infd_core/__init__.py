"""infd-core: hooks, registry, configs, runner, CLI and checkpoints of the infd toolkit."""

from infd_core.errors import (
    CheckpointError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    ConfigError,
    DeviceError,
    DuplicateComponentError,
    InfdError,
    OutputError,
    PluginError,
    UnknownComponentError,
    UsageError,
)
from infd_core.events import (
    CheckpointSavedEvent,
    ProgressCallback,
    ProgressEvent,
    TileWrittenEvent,
    TrainStepEvent,
)
from infd_core.hookspecs import hookimpl
from infd_core.lazy import lazy_exports
from infd_core.plugins import get_plugin_manager, get_registry
from infd_core.registry import COMPONENT_KINDS, ComponentSpec, Registry

__version__ = "0.1.0"

# The Python API loads on first use (it imports the config machinery, never torch at import).
__getattr__, _lazy_dir = lazy_exports(
    __name__, {"LoadedPipeline": "infd_core.api", "load_pipeline": "infd_core.api"}
)

__all__ = [
    "COMPONENT_KINDS",
    "CheckpointError",
    "CheckpointMismatchError",
    "CheckpointNotFoundError",
    "CheckpointSavedEvent",
    "ComponentSpec",
    "ConfigError",
    "DeviceError",
    "DuplicateComponentError",
    "InfdError",
    "LoadedPipeline",
    "OutputError",
    "PluginError",
    "ProgressCallback",
    "ProgressEvent",
    "Registry",
    "TileWrittenEvent",
    "TrainStepEvent",
    "UnknownComponentError",
    "UsageError",
    "get_plugin_manager",
    "get_registry",
    "hookimpl",
    "load_pipeline",
]
