"""Sampling: top-k and nucleus filtering keep exactly the documented sets, top-k 1 and temperature
0 are greedy, a seed repeats a sample, stop and banned ids are honoured."""

from __future__ import annotations

import math

import pytest
import torch

from nlp_rnn.models.language_model import LanguageModelConfig, RNNLanguageModel
from nlp_rnn.models.sampling import filter_logits, next_tokens, sample

PROBS = torch.tensor([[0.05, 0.5, 0.15, 0.3]])
LOGITS = PROBS.log()


def kept(logits: torch.Tensor) -> set[int]:
    return set(torch.nonzero(torch.isfinite(logits[0])).flatten().tolist())


def test_top_k_keeps_the_k_most_likely() -> None:
    assert kept(filter_logits(LOGITS, top_k=2)) == {1, 3}
    assert kept(filter_logits(LOGITS, top_k=0)) == {0, 1, 2, 3}
    assert kept(filter_logits(LOGITS, top_k=10)) == {0, 1, 2, 3}


@pytest.mark.parametrize(
    ("top_p", "expected"),
    [
        (0.5, {1}),
        (0.79, {1, 3}),
        (0.8, {1, 3}),
        (0.81, {1, 3, 2}),
        (0.95, {1, 3, 2}),
        (0.96, {0, 1, 2, 3}),
        (0.01, {1}),
    ],
)
def test_top_p_keeps_the_smallest_set_reaching_p(top_p: float, expected: set[int]) -> None:
    # 0.5 + 0.3 = 0.8 reaches p = 0.8; p = 0.81 needs the third token.
    assert kept(filter_logits(LOGITS, top_p=top_p)) == expected


def full_sort_nucleus(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """The nucleus by sorting the whole vocabulary: true where a token is kept."""
    ordered, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(ordered, dim=-1)
    before = torch.cumsum(probs, dim=-1) - probs
    return torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order, before < top_p)


@pytest.mark.parametrize("scale", [8.0, 0.01])  # peaked: nucleus among the candidates; flat: full sort
@pytest.mark.parametrize("top_p", [0.3, 0.9, 0.95])
def test_large_vocabulary_nucleus_equals_a_full_sort(scale: float, top_p: float) -> None:
    torch.manual_seed(4)
    logits = torch.randn(3, 5000) * scale
    expected = full_sort_nucleus(logits, top_p)
    if scale < 1:
        assert expected.sum(dim=-1).min() > 256  # the fallback path is the one tested here
    assert torch.equal(torch.isfinite(filter_logits(logits, top_p=top_p)), expected)


def test_filters_combine_and_reject_bad_values() -> None:
    assert kept(filter_logits(LOGITS, top_k=3, top_p=0.99)) == {1, 2, 3}
    with pytest.raises(ValueError):
        filter_logits(LOGITS, top_p=0.0)
    with pytest.raises(ValueError):
        next_tokens(LOGITS, -1.0, 0, 1.0, None)


def test_draws_follow_the_distribution() -> None:
    generator = torch.Generator().manual_seed(0)
    draws = torch.stack([next_tokens(LOGITS.expand(1000, -1), 1.0, 0, 1.0, generator) for _ in range(4)])
    shares = torch.bincount(draws.flatten(), minlength=4).float() / draws.numel()
    torch.testing.assert_close(shares, PROBS[0], atol=0.02, rtol=0)


@pytest.fixture(scope="module")
def model() -> RNNLanguageModel:
    torch.manual_seed(0)
    config = LanguageModelConfig(embedding_dim=8, hidden_size=16, dropout=0.0, embedding_dropout=0.0)
    return RNNLanguageModel(config, 20, num_labels=2).eval()


def draw(model: RNNLanguageModel, seed: int = 0, rows: int = 3, **options) -> list[list[int]]:
    labels = options.pop("labels", torch.zeros(rows, dtype=torch.long))
    generator = torch.Generator().manual_seed(seed)
    return sample(model, [2, 5], rows, 30, labels=labels, generator=generator, **options)


def test_a_seed_repeats_the_sample(model: RNNLanguageModel) -> None:
    assert draw(model, seed=1, temperature=1.5) == draw(model, seed=1, temperature=1.5)
    assert draw(model, seed=1, temperature=1.5) != draw(model, seed=2, temperature=1.5)


def test_top_k_one_and_temperature_zero_are_greedy(model: RNNLanguageModel) -> None:
    greedy = draw(model, temperature=0.0)
    assert draw(model, seed=5, top_k=1, temperature=2.0) == greedy
    # greedy by hand: the argmax after each step
    state = model.initial_state(1, torch.zeros(1, dtype=torch.long))
    logits, state = model.logits(torch.tensor([[2, 5]]), state, torch.zeros(1, dtype=torch.long))
    ids = []
    for _ in range(30):
        token = int(logits[0, -1].argmax())
        ids.append(token)
        logits, state = model.logits(torch.tensor([[token]]), state, torch.zeros(1, dtype=torch.long))
    assert greedy[0] == ids


def test_the_label_changes_the_sample(model: RNNLanguageModel) -> None:
    torch.manual_seed(1)
    config = LanguageModelConfig(embedding_dim=8, hidden_size=16, dropout=0.0, embedding_dropout=0.0)
    model = RNNLanguageModel(config, 20, num_labels=2).eval()
    with torch.no_grad():
        model.label_embedding.weight.mul_(10)  # labels far apart, as training makes them
    positive = draw(model, seed=4, rows=1, labels=torch.tensor([1]), temperature=2.0)
    negative = draw(model, seed=4, rows=1, labels=torch.tensor([0]), temperature=2.0)
    assert positive != negative


def test_stop_and_banned_ids(model: RNNLanguageModel) -> None:
    rows = draw(model, seed=3, rows=20, temperature=3.0, stop_id=7, banned=(0, 1, 2))
    assert all(not {0, 1, 2} & set(row) for row in rows)
    assert all(7 not in row[:-1] for row in rows)  # a row ends at its stop id
    assert any(row[-1] == 7 and len(row) < 30 for row in rows)
    assert all(len(row) == 30 for row in rows if 7 not in row)
    assert math.isclose(len(rows), 20)
