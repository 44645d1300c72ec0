"""The torch backend's extra memory stays bounded whatever the batch size (measured in subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import torch
    from infd_sparse import CoordinateBatch, build_neighbours
    from infd_sparse.backends.torch_reference import TorchBackend, TorchBackendConfig

    torch.set_num_threads(1)
    batch, chunk = int(sys.argv[1]), int(sys.argv[2])
    g = torch.Generator().manual_seed(0)
    points = CoordinateBatch.random(batch, (64, 64), 4, generator=g)
    nbrs = build_neighbours(points, kernel_size=7)
    values = torch.randn(points.num_points, 64, generator=g, requires_grad=True)
    weight = torch.randn(64, 49, generator=g, requires_grad=True)
    backend = TorchBackend(TorchBackendConfig(chunk_bytes=chunk))
    warm = CoordinateBatch.random(1, (8, 8), 4, generator=g)
    warm_values = torch.randn(warm.num_points, 64)
    backend.depthwise_conv(warm_values, build_neighbours(warm, kernel_size=7), weight, True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = backend.depthwise_conv(values, nbrs, weight, True)
    out.backward(torch.ones_like(out))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"extra": after - before, "n": points.num_points}))
    """
)

CHUNK = 8 * 2**20


def _measure(batch: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(batch), str(CHUNK)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize("batch", [8, 32])
def test_extra_memory_is_bounded(batch):
    result = _measure(batch)
    row_bytes = 64 * 4  # one point's C = 64 fp32 channels
    n = result["n"]
    # Stated bound: six [N, C] tensors (output, upstream grad, scaled grad, value grad and two
    # temporaries) plus four gathered blocks of CHUNK bytes plus 48 MiB of allocator slack.
    bound = 6 * n * row_bytes + 4 * CHUNK + 48 * 2**20
    naive_gather = n * 49 * row_bytes  # what an unchunked [N, 49, C] gather alone would take
    assert result["extra"] < bound, result
    if batch == 32:
        assert naive_gather > 2 * bound  # the bound is a real constraint at this size
