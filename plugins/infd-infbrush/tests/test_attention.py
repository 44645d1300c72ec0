"""The linear cross-/self-attention operators equal a direct O(N·M) evaluation of the same formula."""

from __future__ import annotations

import pytest
import torch

from infd_infbrush import attention
from infd_infbrush.attention import (
    LinearCrossAttention,
    LinearSelfAttention,
    TokenSet,
    key_value_sums,
    linear_attention,
)


def dense_formula(
    q: torch.Tensor, q_batch: torch.Tensor, sources: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
) -> torch.Tensor:
    """z_i = q_i + (1/L) Σ_l Σ_j A_ij v_j / Σ_j A_ij with A_ij = q_i·k_j over the keys of i's sample,
    one explicit attention matrix per (source, head), masked to the query's own sample."""
    heads = q.shape[1]
    z = q.clone()
    for k, v, k_batch in sources:
        same = (q_batch[:, None] == k_batch[None, :]).to(q.dtype)  # [N, M]
        for head in range(heads):
            a = (q[:, head] @ k[:, head].T) * same  # [N, M]
            z[:, head] += (a @ v[:, head]) / a.sum(1, keepdim=True) / len(sources)
    return z


def ragged(counts: list[int], width: int, g: torch.Generator, positive: bool) -> tuple[torch.Tensor, ...]:
    batch = torch.cat([torch.full((c,), b, dtype=torch.int64) for b, c in enumerate(counts)])
    x = torch.randn(len(batch), 3, width, generator=g, dtype=torch.float64)
    return (torch.softmax(x, -1) if positive else x), batch


@pytest.mark.parametrize("per_segment", [False, True], ids=["vectorised", "per-segment"])
@pytest.mark.parametrize("num_sources", [1, 3])
def test_linear_attention_equals_dense_formula_on_ragged_batches(num_sources, per_segment, monkeypatch):
    if per_segment:  # the bounded-memory path taken for large inputs
        monkeypatch.setattr(attention, "GATHER_LIMIT", 0)
    g = torch.Generator().manual_seed(0)
    q, q_batch = ragged([5, 1, 9], 4, g, positive=True)
    perm = torch.randperm(len(q_batch), generator=g)  # neither queries nor keys need to be grouped
    q, q_batch = q[perm], q_batch[perm]
    sources = []
    for i in range(num_sources):
        k, k_batch = ragged([3 + i, 7, 2 * i + 1], 4, g, positive=True)
        v = torch.randn(len(k_batch), 3, 4, generator=g, dtype=torch.float64)
        perm = torch.randperm(len(k_batch), generator=g)
        sources.append((k[perm], v[perm], k_batch[perm]))
    sums = [key_value_sums(k, v, b, 3) for k, v, b in sources]
    torch.testing.assert_close(linear_attention(q, q_batch, sums), dense_formula(q, q_batch, sources))
    # key/value sums are additive: accumulating two halves gives the same result
    halves = [
        key_value_sums(k[:2], v[:2], b[:2], 3) + key_value_sums(k[2:], v[2:], b[2:], 3) for k, v, b in sources
    ]
    torch.testing.assert_close(linear_attention(q, q_batch, halves), dense_formula(q, q_batch, sources))


@pytest.mark.parametrize("chunk_rows", [None, 3], ids=["whole", "chunks-of-3"])
def test_cross_attention_module_equals_dense_attention(chunk_rows, monkeypatch):
    """The module's projections, normalisations and output projection around the dense reference
    (also when it processes queries and tokens in chunks of rows)."""
    if chunk_rows:
        monkeypatch.setattr(attention, "CHUNK_ROWS", chunk_rows)
    torch.manual_seed(1)
    module = LinearCrossAttention(channels=6, source_dims=[5, 2], heads=2, head_dim=3).double()
    torch.nn.init.normal_(module.out.weight)  # zero-initialised: would hide everything
    g = torch.Generator().manual_seed(2)
    h = torch.randn(11, 6, generator=g, dtype=torch.float64)
    h_batch = torch.tensor([0] * 4 + [1] * 7)
    tokens = [
        TokenSet(torch.randn(5, 5, generator=g, dtype=torch.float64), torch.tensor([1, 0, 1, 1, 0]), 2),
        TokenSet(torch.randn(1 + 1, 2, generator=g, dtype=torch.float64), torch.tensor([0, 1]), 2),
    ]
    out = module(h, h_batch, tokens)

    q = torch.softmax(module.query(module.norm(h)).reshape(11, 2, 3), -1)
    sources = []
    for i, s in enumerate(tokens):
        k = torch.softmax(module.keys[i](s.tokens).reshape(-1, 2, 3), -1)
        v = module.values[i](s.tokens).reshape(-1, 2, 3)
        sources.append((k, v, s.batch))
    expected = module.out(dense_formula(q, h_batch, sources).reshape(11, 6))
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("chunk_rows", [None, 4], ids=["whole", "chunks-of-4"])
def test_self_attention_module_equals_dense_attention(chunk_rows, monkeypatch):
    if chunk_rows:
        monkeypatch.setattr(attention, "CHUNK_ROWS", chunk_rows)
    torch.manual_seed(3)
    module = LinearSelfAttention(channels=4, heads=2, head_dim=2).double()
    torch.nn.init.normal_(module.out.weight)
    g = torch.Generator().manual_seed(4)
    h = torch.randn(9, 4, generator=g, dtype=torch.float64)
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1, 1, 1])
    out = module(h, batch, 2)
    normed = module.norm(h)
    q = torch.softmax(module.query(normed).reshape(9, 2, 2), -1)
    k, v = module.key_value(normed).chunk(2, -1)
    expected = module.out(
        dense_formula(q, batch, [(torch.softmax(k.reshape(9, 2, 2), -1), v.reshape(9, 2, 2), batch)]).reshape(
            9, 4
        )
    )
    torch.testing.assert_close(out, expected)


def test_samples_without_keys_and_null_replacement():
    g = torch.Generator().manual_seed(5)
    q, q_batch = ragged([2, 3], 2, g, positive=True)
    k, k_batch = ragged([4, 0], 2, g, positive=True)
    v = torch.randn(4, 3, 2, generator=g, dtype=torch.float64)
    z = linear_attention(q, q_batch, [key_value_sums(k, v, k_batch, 2)])
    torch.testing.assert_close(z[2:], q[2:])  # no keys: only the residual
    tokens = TokenSet(torch.arange(6.0).reshape(3, 2), torch.tensor([0, 1, 1]), 2)
    replaced = tokens.replace_samples(torch.tensor([False, True]), torch.full((2, 2), -1.0))
    assert replaced.batch.tolist() == [0, 1, 1]
    assert replaced.tokens.tolist() == [[0.0, 1.0], [-1.0, -1.0], [-1.0, -1.0]]
    torch.testing.assert_close(replaced.mean(), torch.tensor([[0.0, 1.0], [-1.0, -1.0]]))
