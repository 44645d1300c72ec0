"""Linear-complexity attention operators of ∞-Brush on ragged batches of points and tokens.

Queries and keys are softmax-normalised over each head's feature dimension (GNOT style), so every
query·key product is positive. For each conditioning source l the per-sample sums K_lᵀV_l (``kv``) and
Σ_j k_lj (``k``) are computed once; a query q of sample b then gets

    z = q + (1/L) Σ_l [q · (K_lᵀV_l)_b] / (q · Σ_j k_lj,b),

which equals the normalised attention Σ_j (q·k_j) v_j / Σ_j (q·k_j) over that sample's tokens at cost
O((N + Σ_l N_l) d²) instead of O(N · Σ_l N_l · d). Sums are additive, so they can be accumulated over
chunks of tokens (or of query points) and applied to query chunks afterwards. Samples are never padded:
a ragged batch is a flat ``[N, C]`` tensor plus a ``batch`` index vector.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence

import torch
from torch import nn

from infd_infbrush.errors import ConditionError

#: Up to this many elements of ``[N, H, d, e]``, sums are gathered per query / scattered per key in one
#: vectorised op; above it, each sample's contiguous segment is processed on its own (bounded memory).
GATHER_LIMIT = 1 << 21
#: The modules apply projections, normalisations and sums to chunks of this many rows, so temporaries
#: stay cache-sized and the extra memory does not grow with N.
CHUNK_ROWS = 1 << 15


def chunked_rows(fn: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> torch.Tensor:
    """``fn`` on chunks of :data:`CHUNK_ROWS` rows of ``tensors``, results concatenated."""
    n = tensors[0].shape[0]
    if n <= CHUNK_ROWS:
        return fn(*tensors)
    return torch.cat([fn(*(t[s : s + CHUNK_ROWS] for t in tensors)) for s in range(0, n, CHUNK_ROWS)])


def chunked_sums(fn: Callable[..., KeyValueSums], *tensors: torch.Tensor) -> KeyValueSums:
    """The sum of ``fn`` over chunks of :data:`CHUNK_ROWS` rows of ``tensors``."""
    n = tensors[0].shape[0]
    total = fn(*(t[:CHUNK_ROWS] for t in tensors))
    for s in range(CHUNK_ROWS, n, CHUNK_ROWS):
        total = total + fn(*(t[s : s + CHUNK_ROWS] for t in tensors))
    return total


@dataclasses.dataclass(frozen=True)
class TokenSet:
    """A ragged batch of token sets: ``tokens [M, D]``, ``batch [M]`` (the sample of each token)."""

    tokens: torch.Tensor
    batch: torch.Tensor
    batch_size: int

    def __post_init__(self) -> None:
        if self.tokens.dim() != 2:
            raise ConditionError(f"tokens must have shape [M, D], got {list(self.tokens.shape)}")
        if self.batch.dtype != torch.int64 or self.batch.shape != (self.tokens.shape[0],):
            got = f"{self.batch.dtype} {list(self.batch.shape)}"
            raise ConditionError(f"batch must be int64 [{self.tokens.shape[0]}], got {got}")
        if self.batch_size < 1:
            raise ConditionError(f"batch_size must be positive, got {self.batch_size}")
        if self.batch.numel() and (self.batch.min() < 0 or self.batch.max() >= self.batch_size):
            raise ConditionError(f"token batch indices must lie in [0, {self.batch_size})")

    @classmethod
    def from_dense(cls, tokens: torch.Tensor) -> TokenSet:
        """Every sample with the same number of tokens: ``[B, T, D]``."""
        if tokens.dim() != 3:
            raise ConditionError(f"dense tokens must have shape [B, T, D], got {list(tokens.shape)}")
        b, t, _ = tokens.shape
        batch = torch.arange(b, device=tokens.device).repeat_interleave(t)
        return cls(tokens.reshape(b * t, -1), batch, b)

    @property
    def width(self) -> int:
        return int(self.tokens.shape[1])

    def map(self, fn: nn.Module) -> TokenSet:
        """The same sets with ``fn`` applied to every token."""
        return TokenSet(fn(self.tokens), self.batch, self.batch_size)

    def mean(self) -> torch.Tensor:
        """Per-sample mean token ``[B, D]`` (zero for a sample without tokens)."""
        sums = self.tokens.new_zeros(self.batch_size, self.width).index_add(0, self.batch, self.tokens)
        counts = torch.bincount(self.batch, minlength=self.batch_size).clamp(min=1)
        return sums / counts[:, None].to(sums.dtype)

    def padded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(tokens [B, T, D], mask [B, T])``: each sample's tokens in order, padded to the longest set
        (a sample without tokens gets one zero token, so that softmax attention stays defined)."""
        counts = torch.bincount(self.batch, minlength=self.batch_size)
        order = torch.argsort(self.batch, stable=True)
        batch = self.batch[order]
        position = torch.arange(len(batch), device=batch.device) - (torch.cumsum(counts, 0) - counts)[batch]
        longest = max(1, int(counts.max()))
        dense = self.tokens.new_zeros(self.batch_size, longest, self.width)
        mask = torch.zeros(self.batch_size, longest, dtype=torch.bool, device=self.tokens.device)
        dense[batch, position] = self.tokens[order]
        mask[batch, position] = True
        mask[:, 0] |= counts == 0
        return dense, mask

    def replace_samples(self, drop: torch.Tensor, null: torch.Tensor) -> TokenSet:
        """Samples where ``drop [B]`` is true get the tokens ``null [T0, D]`` instead of their own."""
        keep = ~drop[self.batch]
        dropped = torch.nonzero(drop, as_tuple=True)[0]
        null_batch = dropped.repeat_interleave(null.shape[0])
        null_tokens = null.repeat(len(dropped), 1).to(self.tokens.dtype)
        tokens = torch.cat([self.tokens[keep], null_tokens])
        batch = torch.cat([self.batch[keep], null_batch])
        order = torch.argsort(batch, stable=True)  # grouped by sample (not needed by the sums, but tidy)
        return TokenSet(tokens[order], batch[order], self.batch_size)


@dataclasses.dataclass(frozen=True)
class KeyValueSums:
    """Per-sample sums of one source: ``kv [B, H, d, e]`` = Σ_j k_j v_jᵀ and ``k [B, H, d]`` = Σ_j k_j."""

    kv: torch.Tensor
    k: torch.Tensor

    def __add__(self, other: KeyValueSums) -> KeyValueSums:
        return KeyValueSums(self.kv + other.kv, self.k + other.k)


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """``[N, H·d]`` → ``[N, H, d]``."""
    return x.reshape(x.shape[0], heads, x.shape[1] // heads)


def feature_softmax(x: torch.Tensor, heads: int) -> torch.Tensor:
    """Split into heads and softmax over each head's features (GNOT normalisation): ``[N, H, d]``.

    Written out (max, exp, sum) because ``torch.softmax`` over a short last axis is ~3× slower on CPU.
    """
    x = split_heads(x, heads)
    e = torch.exp(x - x.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)


def segments(batch: torch.Tensor, batch_size: int) -> tuple[torch.Tensor | None, list[int]]:
    """``(order, bounds)``: rows ``order[bounds[b]:bounds[b+1]]`` belong to sample b (``order`` None when
    ``batch`` is already non-decreasing, as for :class:`~infd_sparse.CoordinateBatch`)."""
    order = None
    if batch.numel() > 1 and bool((batch[1:] < batch[:-1]).any()):
        order = torch.argsort(batch, stable=True)
    counts = torch.bincount(batch, minlength=batch_size)
    bounds = [0, *torch.cumsum(counts, 0).tolist()]
    return order, bounds


def key_value_sums(k: torch.Tensor, v: torch.Tensor, batch: torch.Tensor, batch_size: int) -> KeyValueSums:
    """Per-sample K_bᵀV_b and Σ k of keys ``k [M, H, d]`` and values ``v [M, H, e]`` (segment sums).

    Small inputs scatter their outer products with ``index_add``; large ones multiply each sample's
    segment (no ``[M, H, d, e]`` intermediate).
    """
    ksum = k.new_zeros(batch_size, k.shape[1], k.shape[2]).index_add(0, batch, k)
    if k.shape[0] * k.shape[1] * k.shape[2] * v.shape[2] <= GATHER_LIMIT:
        outer = torch.einsum("mhd,mhe->mhde", k, v)
        kv = outer.new_zeros(batch_size, *outer.shape[1:]).index_add(0, batch, outer)
        return KeyValueSums(kv, ksum)
    order, bounds = segments(batch, batch_size)
    if order is not None:
        k, v = k[order], v[order]
    kv = [torch.einsum("mhd,mhe->hde", k[s:e], v[s:e]) for s, e in itertools.pairwise(bounds)]
    return KeyValueSums(torch.stack(kv), ksum)


def linear_attention(
    q: torch.Tensor, batch: torch.Tensor, sums: Sequence[KeyValueSums], eps: float = 1e-30
) -> torch.Tensor:
    """``z = q + (1/L) Σ_l [q·KV_l] / (q·Σk_l)`` per sample for queries ``q [N, H, d]`` (d = e).

    A sample with no keys in a source contributes zero for that source (its numerator is zero).
    """
    if not sums:
        return q
    if q.shape[0] * q.shape[1] * q.shape[2] * sums[0].kv.shape[-1] <= GATHER_LIMIT:
        return q + _attend(q, [(s.kv[batch], s.k[batch]) for s in sums], eps) / len(sums)
    batch_size = sums[0].kv.shape[0]
    order, bounds = segments(batch, batch_size)
    qs = q if order is None else q[order]
    parts = []
    for b, (s, e) in enumerate(itertools.pairwise(bounds)):
        qb = qs[s:e]
        parts.append(qb + _attend(qb, [(x.kv[b], x.k[b]) for x in sums], eps) / len(sums))
    out = torch.cat(parts)
    if order is not None:
        out = torch.empty_like(out).index_copy(0, order, out)
    return out


def _attend(q: torch.Tensor, sums: list[tuple[torch.Tensor, torch.Tensor]], eps: float) -> torch.Tensor:
    """Σ_l [q·KV_l] / (q·Σk_l), KV_l and Σk_l per query (``[N, H, d, e]``) or shared (``[H, d, e]``).

    Shared sums of all sources are stacked with Σk as an extra column, ``[H, d, L·(e + 1)]``, so that
    numerators and denominators of every source come from one batched matrix product.
    """
    if sums[0][0].dim() == 4:
        acc = torch.zeros_like(q)
        for kv, ksum in sums:
            numerator = torch.einsum("nhd,nhde->nhe", q, kv)
            acc = acc + numerator / (q * ksum).sum(-1).clamp_min(eps)[..., None]
        return acc
    e = sums[0][0].shape[-1]
    stacked = torch.cat([torch.cat([kv, ksum[..., None]], dim=-1) for kv, ksum in sums], dim=-1)
    products = torch.einsum("nhd,hdf->nhf", q, stacked).unflatten(-1, (len(sums), e + 1))
    return (products[..., :e] / products[..., e:].clamp_min(eps)).sum(dim=2)


class LinearCrossAttention(nn.Module):
    """∞-Brush's cross-attention neural operator: point features attend to L token sources.

    ``summarise(sources)`` computes each source's sums once; ``attend(h, batch, sums)`` applies them to
    any chunk of query points and returns the output projection ``[N, C]`` (to be added to ``h``).
    """

    def __init__(self, channels: int, source_dims: Sequence[int], heads: int, head_dim: int) -> None:
        super().__init__()
        if not source_dims:
            raise ValueError("cross-attention needs at least one source")
        self.heads, width = heads, heads * head_dim
        self.norm = nn.LayerNorm(channels)
        self.query = nn.Linear(channels, width)
        self.keys = nn.ModuleList(nn.Linear(dim, width) for dim in source_dims)
        self.values = nn.ModuleList(nn.Linear(dim, width) for dim in source_dims)
        self.out = nn.Linear(width, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @property
    def num_sources(self) -> int:
        return len(self.keys)

    def source_sums(self, index: int, source: TokenSet) -> KeyValueSums:
        """Sums of source ``index`` (additive over chunks of its tokens)."""

        def sums(tokens: torch.Tensor, batch: torch.Tensor) -> KeyValueSums:
            k = feature_softmax(self.keys[index](tokens), self.heads)
            v = split_heads(self.values[index](tokens), self.heads)
            return key_value_sums(k, v, batch, source.batch_size)

        return chunked_sums(sums, source.tokens, source.batch)

    def summarise(self, sources: Sequence[TokenSet]) -> list[KeyValueSums]:
        if len(sources) != self.num_sources:
            raise ValueError(f"expected {self.num_sources} sources, got {len(sources)}")
        return [self.source_sums(i, s) for i, s in enumerate(sources)]

    def queries(self, h: torch.Tensor) -> torch.Tensor:
        return feature_softmax(self.query(self.norm(h)), self.heads)

    def attend(self, h: torch.Tensor, batch: torch.Tensor, sums: Sequence[KeyValueSums]) -> torch.Tensor:
        def rows(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return self.out(linear_attention(self.queries(x), b, sums).flatten(1))

        return chunked_rows(rows, h, batch)

    def forward(self, h: torch.Tensor, batch: torch.Tensor, sources: Sequence[TokenSet]) -> torch.Tensor:
        return self.attend(h, batch, self.summarise(sources))


class LinearSelfAttention(nn.Module):
    """Linear self-attention over the points of each sample (the same formula with L = 1)."""

    def __init__(self, channels: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.heads, width = heads, heads * head_dim
        self.norm = nn.LayerNorm(channels)
        self.query = nn.Linear(channels, width)
        self.key_value = nn.Linear(channels, 2 * width)
        self.out = nn.Linear(width, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def sums(self, h: torch.Tensor, batch: torch.Tensor, batch_size: int) -> KeyValueSums:
        """Key/value sums of a chunk of points (additive over chunks)."""

        def part(x: torch.Tensor, b: torch.Tensor) -> KeyValueSums:
            k, v = self.key_value(self.norm(x)).chunk(2, dim=-1)
            return key_value_sums(feature_softmax(k, self.heads), split_heads(v, self.heads), b, batch_size)

        return chunked_sums(part, h, batch)

    def attend(self, h: torch.Tensor, batch: torch.Tensor, sums: KeyValueSums) -> torch.Tensor:
        def rows(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            q = feature_softmax(self.query(self.norm(x)), self.heads)
            return self.out(linear_attention(q, b, [sums]).flatten(1))

        return chunked_rows(rows, h, batch)

    def forward(self, h: torch.Tensor, batch: torch.Tensor, batch_size: int) -> torch.Tensor:
        return self.attend(h, batch, self.sums(h, batch, batch_size))
