"""infd-render: coordinate grids, LIIF and CLIF neural-field renderers, exact halo-tiled rendering.

Names are imported lazily so that loading the plugin (``infd plugins``) does not import torch.
"""

from __future__ import annotations

from infd_core.lazy import lazy_exports

_EXPORTS = {
    "CLIFConfig": "infd_render.configs",
    "LIIFConfig": "infd_render.configs",
    "TilingConfig": "infd_render.configs",
    "Region": "infd_render.coords",
    "cell_grid": "infd_render.coords",
    "cell_size": "infd_render.coords",
    "coordinate_grid": "infd_render.coords",
    "pixel_centres": "infd_render.coords",
    "gather_query": "infd_render.query",
    "Borders": "infd_render.layers",
    "receptive_field_radius": "infd_render.layers",
    "CLIFRenderer": "infd_render.clif",
    "LIIFRenderer": "infd_render.liif",
    "TiledRenderer": "infd_render.tiled",
    "render_whole": "infd_render.tiled",
    "TileSink": "infd_render.sinks",
    "ArraySink": "infd_render.sinks",
    "ZarrSink": "infd_render.sinks",
    "NullSink": "infd_render.sinks",
    "ScaleConsistency": "infd_render.scale",
    "scale_consistency": "infd_render.scale",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
