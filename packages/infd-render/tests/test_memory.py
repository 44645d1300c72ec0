"""Host memory of tiled rendering does not grow with the image size (measured in subprocesses)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import resource, sys, torch
sys.path.insert(0, {tests!r})
from render_helpers import features, tiny_clif
from infd_render import NullSink, TiledRenderer
size = int(sys.argv[1])
torch.set_num_threads(1)
renderer, feats = tiny_clif(4, 4, residual_blocks=1), features(4, 16, 16)
region = ((size - 256, size), (0, 256))  # the last tile row, four 64-tiles of it
sink = NullSink(size, 3, "uint8", tile_size=64, region=region)
TiledRenderer(renderer, 64).render_to_sink(sink, feats, size)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sink = NullSink(512, 3, "uint8", tile_size=64) if size == 512 else sink
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, sink.written)
"""


def peak_kib(size: int) -> int:
    from pathlib import Path

    code = SCRIPT.format(tests=str(Path(__file__).parent))
    out = subprocess.run([sys.executable, "-c", code, str(size)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def test_rendering_tiles_of_a_gigapixel_image_uses_no_more_memory_than_a_small_one():
    small, huge = peak_kib(512), peak_kib(32768)
    # a full 32768² x 3 uint8 image is 3 GiB and its coordinate grid 8 GiB: neither may appear
    assert huge - small < 20 * 1024, (small, huge)
