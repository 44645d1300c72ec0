"""The GNO's radius graph and both kernel layers against dense brute-force evaluations over all pairs."""

from __future__ import annotations

import pytest
import torch

from infd_funcdiff import gno
from infd_funcdiff.gno import GraphKernelLayer, GraphNeuralOperator, MatrixKernelLayer
from infd_funcdiff.neighbours import radius_graph, radius_graph_brute_force


def edge_set(edges: tuple[torch.Tensor, torch.Tensor]) -> set[tuple[int, int]]:
    return set(zip(edges[0].tolist(), edges[1].tolist(), strict=True))


@pytest.mark.parametrize("kind", ["random", "dyadic"])
def test_radius_graph_equals_brute_force(kind: str) -> None:
    generator = torch.Generator().manual_seed(0)
    if kind == "random":
        coords, radius = torch.rand(3, 300, 1, generator=generator), 0.05
    else:  # duplicates and pairs exactly r apart, exact in binary floating point
        grid = torch.randint(0, 64, (2, 150, 1), generator=generator).double() / 64
        coords, radius = grid, 4 / 64
    fast, brute = radius_graph(coords, radius), radius_graph_brute_force(coords, radius)
    assert len(fast[0]) == len(brute[0]) and edge_set(fast) == edge_set(brute)
    assert bool((fast[0][1:] >= fast[0][:-1]).all())  # receivers ascending


def dense_layer(layer: torch.nn.Module, v: torch.Tensor, pos: torch.Tensor, curve: torch.Tensor,
                radius: float, bias: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """The layer's sum written over all N² pairs with a mask: no edge list, no index_add."""
    n = pos.shape[0]
    receiver_pos, sender_pos = pos[:, None].expand(n, n), pos[None, :].expand(n, n)
    mask = ((receiver_pos - sender_pos).abs() <= radius) & (curve[:, None] == curve[None, :])
    geometry = torch.stack([receiver_pos, sender_pos - receiver_pos], dim=-1)
    if isinstance(layer, MatrixKernelLayer):
        kernels = layer.kernel(geometry).unflatten(-1, (layer.width, layer.width))  # (N, N, C, C)
        messages = torch.einsum("ijcd,jd->ijc", kernels, v)
    else:
        messages = layer.kernel(geometry) * layer.message(v)[None, :, :]
    weights = mask.to(v.dtype)
    mean = (weights[..., None] * messages).sum(1) / weights.sum(1, keepdim=True)
    return layer.self_weight(v) + mean + bias


@pytest.mark.parametrize("layer_type", [MatrixKernelLayer, GraphKernelLayer])
def test_kernel_layers_equal_dense_evaluation(layer_type: type) -> None:
    torch.manual_seed(0)
    width, points, radius = 5, 40, 0.15
    layer = layer_type(width, 8, edge_chunk=7) if layer_type is MatrixKernelLayer else layer_type(width, 8)
    coords = torch.rand(2, points, 1)
    edges = radius_graph(coords, radius)
    pos, curve = coords.reshape(-1), torch.arange(2).repeat_interleave(points)
    v, bias = torch.randn(2 * points, width), torch.randn(2 * points, width)
    with torch.no_grad():
        got = layer(v, pos, edges, bias)
        expected = dense_layer(layer, v, pos, curve, radius, bias)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_matrix_kernel_is_a_full_matrix_and_the_model_matches_brute_force_graphs(monkeypatch) -> None:
    torch.manual_seed(1)
    model = GraphNeuralOperator(6, 2, 0.1, 16, 16, kernel="matrix")
    coords = torch.rand(2, 60, 1).sort(dim=1).values
    x, t = torch.sin(6 * coords), torch.tensor([0.3, 0.8])
    kernel = model.layers[0].kernels(torch.tensor([0.2]), torch.tensor([0.25]))[0]
    assert kernel.shape == (6, 6) and kernel.triu(1).abs().sum() > 0 and kernel.tril(-1).abs().sum() > 0
    with torch.no_grad():
        fast = model(x, t, coords=coords)
        monkeypatch.setattr(gno, "radius_graph", radius_graph_brute_force)
        brute = model(x, t, coords=coords)
    torch.testing.assert_close(fast, brute, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="kernel must be one of"):
        GraphNeuralOperator(kernel="full")
