"""Hook implementations of infd-funcdiff (no torch import: factories are import paths)."""

from infd_core import ComponentSpec, hookimpl

_CONFIG = "infd_funcdiff.config"


@hookimpl
def infd_pipelines() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="funcdiff",
            factory="infd_funcdiff.pipeline:FuncDiffPipeline",
            config=f"{_CONFIG}:FuncDiffConfig",
            description="function-space diffusion (Kerrigan et al.): GP noise, L2/Sobolev losses, curves",
            demo="infd_funcdiff.demo:demo_config",
        )
    ]


@hookimpl
def infd_models() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="fno-1d",
            factory="infd_funcdiff.fno:FNO1d.from_config",
            config=f"{_CONFIG}:FNOConfig",
            description="1-D Fourier neural operator on regular grids (any resolution)",
        ),
        ComponentSpec(
            name="gno-1d",
            factory="infd_funcdiff.gno:GraphNeuralOperator.from_config",
            config=f"{_CONFIG}:GNOConfig",
            description="graph neural operator on irregular 1-D points (radius graph, mean aggregation)",
        ),
    ]


@hookimpl
def infd_datasets() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="mogp",
            factory="infd_funcdiff.datasets:mogp_curves",
            config=f"{_CONFIG}:MoGPConfig",
            description="mixture of two GPs with opposite linear means (function-space diffusion)",
        ),
        ComponentSpec(
            name="gp-curves",
            factory="infd_funcdiff.datasets:gp_curves",
            config=f"{_CONFIG}:GPConfig",
            description="draws of one zero-mean GP with a known stationary kernel",
        ),
        ComponentSpec(
            name="linear-functions",
            factory="infd_funcdiff.datasets:linear_curves",
            config=f"{_CONFIG}:LinearConfig",
            description="random lines a·x + b with Gaussian slope and bias",
        ),
    ]
