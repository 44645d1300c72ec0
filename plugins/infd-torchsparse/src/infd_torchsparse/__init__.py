"""infd-torchsparse: an optional infd-sparse backend adapting a torchsparse the user has built.

Names are imported lazily so that loading the plugin (``infd plugins``) imports neither torch nor
torchsparse.
"""

from __future__ import annotations

from infd_core.lazy import lazy_exports

_EXPORTS = {
    "TorchsparseBackend": "infd_torchsparse.backend",
    "TorchsparseBackendConfig": "infd_torchsparse.backend",
    "TorchsparseUnavailableError": "infd_torchsparse.hashing",
    "hash_lookup": "infd_torchsparse.hashing",
    "load_torchsparse": "infd_torchsparse.hashing",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
