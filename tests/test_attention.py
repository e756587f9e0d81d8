"""Attention modules: the scores against their formulas, masking, and one-step against all-steps queries."""

from __future__ import annotations

import pytest
import torch

from nlp_rnn.models.attention import (
    ATTENTIONS,
    AdditiveAttention,
    DotAttention,
    GeneralAttention,
    make_attention,
)

BATCH, STEPS, SOURCE, QUERY, KEY = 3, 4, 6, 5, 7
LENGTHS = torch.tensor([6, 2, 1])  # full, short, a single real position


def sizes(kind: str) -> tuple[int, int]:
    """Query and key sizes; dot needs them equal."""
    return (KEY, KEY) if kind == "dot" else (QUERY, KEY)


def make(kind: str):
    torch.manual_seed(0)
    query_size, key_size = sizes(kind)
    return make_attention(kind, query_size, key_size, attention_size=8)


def inputs(kind: str, steps: int | None = None):
    """Queries (B x H, or B x T x H), memory (B x S x M) zero at padding, and the mask."""
    generator = torch.Generator().manual_seed(1)
    query_size, key_size = sizes(kind)
    shape = (BATCH, query_size) if steps is None else (BATCH, steps, query_size)
    query = torch.randn(*shape, generator=generator)
    mask = torch.arange(SOURCE) < LENGTHS.unsqueeze(1)  # B x S
    memory = torch.randn(BATCH, SOURCE, key_size, generator=generator) * mask.unsqueeze(-1)
    return query, memory, mask


def test_factory_builds_each_variant():
    assert isinstance(make_attention("bahdanau", 4, 6), AdditiveAttention)
    assert isinstance(make_attention("concat", 4, 6), AdditiveAttention)
    assert isinstance(make_attention("general", 4, 6), GeneralAttention)
    assert isinstance(make_attention("dot", 6, 6), DotAttention)
    assert make_attention("concat", 4, 6).v.in_features == 4  # attention size defaults to the query's


def test_factory_rejects_unknown_kinds_and_dot_size_mismatch():
    with pytest.raises(ValueError, match="attention must be one of"):
        make_attention("cosine", 4, 4)
    with pytest.raises(ValueError, match="query_size == key_size"):
        make_attention("dot", 4, 6)


@pytest.mark.parametrize("kind", ATTENTIONS)
def test_one_step_shapes_and_weights(kind):
    attention = make(kind)
    query, memory, mask = inputs(kind)
    context, weights = attention(query, attention.precompute_keys(memory), memory, mask)
    assert context.shape == (BATCH, KEY)
    assert weights.shape == (BATCH, SOURCE)
    torch.testing.assert_close(weights.sum(-1), torch.ones(BATCH))
    assert torch.all(weights[~mask] == 0)  # exactly zero at padding
    assert torch.all(weights[mask] > 0)
    torch.testing.assert_close(weights[2], torch.eye(SOURCE)[0])  # one real position takes it all
    torch.testing.assert_close(context, torch.einsum("bs,bsm->bm", weights, memory))


@pytest.mark.parametrize("kind", ATTENTIONS)
def test_all_steps_at_once_equal_one_step_at_a_time(kind):
    attention = make(kind)
    queries, memory, mask = inputs(kind, steps=STEPS)
    keys = attention.precompute_keys(memory)
    context, weights = attention(queries, keys, memory, mask)
    assert context.shape == (BATCH, STEPS, KEY) and weights.shape == (BATCH, STEPS, SOURCE)
    for t in range(STEPS):
        step_context, step_weights = attention(queries[:, t], keys, memory, mask)
        torch.testing.assert_close(context[:, t], step_context)
        torch.testing.assert_close(weights[:, t], step_weights)


@pytest.mark.parametrize("kind", ATTENTIONS)
def test_padding_content_does_not_matter(kind):
    attention = make(kind)
    query, memory, mask = inputs(kind)
    noisy = memory + 100.0 * (~mask).unsqueeze(-1)  # garbage at padding
    context, weights = attention(query, attention.precompute_keys(memory), memory, mask)
    noisy_context, noisy_weights = attention(query, attention.precompute_keys(noisy), noisy, mask)
    torch.testing.assert_close(weights, noisy_weights)
    torch.testing.assert_close(context, noisy_context)


@pytest.mark.parametrize("kind", ATTENTIONS)
def test_gradients_reach_queries_memory_and_weights(kind):
    attention = make(kind)
    query, memory, mask = inputs(kind)
    query.requires_grad_(True)
    memory.requires_grad_(True)
    context, _ = attention(query, attention.precompute_keys(memory), memory, mask)
    context.sum().backward()
    assert query.grad.abs().sum() > 0 and memory.grad.abs().sum() > 0
    assert all(parameter.grad is not None for parameter in attention.parameters())


def test_additive_score_is_v_tanh_wq_plus_wk():
    attention = make("bahdanau")
    query, memory, _ = inputs("bahdanau")
    w_q, w_k, b_k = (
        attention.query_projection.weight,
        attention.key_projection.weight,
        attention.key_projection.bias,
    )
    v = attention.v.weight[0]
    expected = torch.tanh((query @ w_q.t()).unsqueeze(1) + memory @ w_k.t() + b_k) @ v  # B x S
    scores = attention.score(query.unsqueeze(1), attention.precompute_keys(memory)).squeeze(1)
    torch.testing.assert_close(scores, expected)


def test_general_score_is_q_w_k_and_dot_is_q_k():
    general = make("general")
    query, memory, _ = inputs("general")
    w = general.key_projection.weight  # Q x K
    expected = torch.einsum("bq,qk,bsk->bs", query, w, memory)
    scores = general.score(query.unsqueeze(1), general.precompute_keys(memory)).squeeze(1)
    torch.testing.assert_close(scores, expected)

    dot = make("dot")
    query, memory, _ = inputs("dot")
    scores = dot.score(query.unsqueeze(1), dot.precompute_keys(memory)).squeeze(1)
    torch.testing.assert_close(scores, torch.einsum("bk,bsk->bs", query, memory))
