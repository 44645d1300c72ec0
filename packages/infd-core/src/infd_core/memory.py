"""Giving freed memory back to the system between the tiles of computations larger than memory."""

from __future__ import annotations

from collections.abc import Callable


def _heap_trimmer() -> Callable[[], None]:
    """glibc's ``malloc_trim(0)``: hands freed heap memory back to the system. Tiles of hundreds of MB
    are freed between stages, but threads (zarr's I/O, torch's) keep arenas that glibc returns only on
    request, so without it the process's RSS creeps far above what any stage holds. A no-op elsewhere."""
    try:
        import ctypes

        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    return lambda: trim(0) and None


#: call after freeing a large tile (out-of-core stages, band-by-band filters)
release_freed_memory = _heap_trimmer()

__all__ = ["release_freed_memory"]
