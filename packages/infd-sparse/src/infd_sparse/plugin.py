"""infd hooks of infd-sparse: the torch and Triton backends and the automatic choice between them.

Kept light: nothing here imports torch or triton.
"""

from __future__ import annotations

import importlib.util

from infd_core import ComponentSpec, hookimpl

TRITON_DTYPES = ("float32", "bfloat16", "float16")


@hookimpl
def infd_sparse_backends() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="torch",
            factory="infd_sparse.backends.torch_reference:TorchBackend",
            config="infd_sparse.backends.torch_reference:TorchBackendConfig",
            description="chunked pure-PyTorch reference (CPU and GPU, bounded memory)",
        ),
        ComponentSpec(
            name="triton",
            factory="infd_sparse.backends.triton_backend:TritonBackend",
            config="infd_sparse.backends.triton_backend:TritonBackendConfig",
            description="fused Triton gather-multiply-accumulate kernels (CUDA; CPU via TRITON_INTERPRET=1)",
        ),
    ]


@hookimpl(trylast=True)
def infd_choose_sparse_backend(device: str, dtype: str) -> str | None:
    """Fallback choice: Triton on CUDA when it is installed, the torch reference otherwise."""
    if device == "cuda" and dtype in TRITON_DTYPES and importlib.util.find_spec("triton") is not None:
        return "triton"
    return "torch"
