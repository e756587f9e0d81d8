"""Interpolated Kneser-Ney over token ids: distributions sum to one, the vectorised counts agree
with a plain dictionary implementation of the equations, skipped ids are context only."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.evaluation.ngram_lm import KneserNey

TEXT = "the cat sat on the mat . the dog sat on the log . a cat and a dog saw the cat on the mat ."
WORDS = sorted(set(TEXT.split()))
V = len(WORDS) + 4  # ids 0-3 are specials, as in a language model's vocabulary
IDS = np.array([WORDS.index(word) + 4 for word in TEXT.split()])


def reference_probability(
    ids: np.ndarray, order: int, discounts, word: int, history: tuple[int, ...]
) -> float:
    """Chen and Goodman's interpolated modified Kneser-Ney, straight from the equations with dicts."""
    grams = [Counter(tuple(ids[i : i + k]) for i in range(len(ids) - k + 1)) for k in range(order + 2)]
    history = history[len(history) - min(len(history), order - 1) :]

    def count(k: int, gram: tuple[int, ...]) -> int:  # raw counts at the top, continuation counts below
        if k == order:
            return grams[k][gram]
        return sum(1 for longer in grams[k + 1] if longer[1:] == gram)

    def p(k: int) -> float:  # P_k(word | the last k - 1 ids of the history)
        if k == 0:
            return 1.0 / V
        lower = p(k - 1)
        if len(history) < k - 1:
            return lower
        context = history[len(history) - (k - 1) :]
        counts = {v: count(k, context + (v,)) for v in range(V)}
        total = sum(counts.values())
        if total == 0:
            return lower
        d1, d2, d3 = discounts[k - 1]
        d = {0: 0.0, 1: d1, 2: d2}
        gamma = sum(d.get(c, d3) for c in counts.values() if c > 0)
        c = counts[word]
        return (max(c - d.get(c, d3), 0.0) + gamma * lower) / total

    return p(order)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("discount", [None, 0.75])
def test_distributions_sum_to_one_and_match_the_equations(order: int, discount: float | None) -> None:
    kn = KneserNey(order, V, discount).fit(IDS)
    contexts = [(), (IDS[0],), tuple(IDS[:2]), tuple(IDS[3:6]), (0, 0, 0), (IDS[1], 0)]
    for context in contexts:
        distribution = kn.distribution(context)
        assert distribution.shape == (V,) and distribution.sum() == pytest.approx(1.0, abs=1e-12)
        assert (distribution > 0).all()  # the uniform floor: every id, seen or not
        for word in (int(IDS[2]), int(IDS[5]), 0, int(IDS[-1])):
            expected = reference_probability(IDS, order, kn.discounts, word, tuple(int(t) for t in context))
            assert distribution[word] == pytest.approx(expected, rel=1e-10)


def test_log_probs_score_each_position_from_its_history() -> None:
    kn = KneserNey(3, V).fit(IDS)
    log_probs = kn.log_probs(IDS)
    assert log_probs.shape == (len(IDS) - 1,)
    for j in range(1, len(IDS)):
        assert log_probs[j - 1] == pytest.approx(math.log(kn.distribution(IDS[max(0, j - 2) : j])[IDS[j]]))
    nll, tokens = kn.perplexity(IDS)
    assert tokens == len(IDS) - 1 and nll == pytest.approx(-log_probs.sum())


def test_modified_discounts_follow_the_count_of_counts() -> None:
    rng = np.random.default_rng(0)
    ids = rng.zipf(1.5, 20_000) % 50 + 4
    kn = KneserNey(2, 60).fit(ids)
    counts = Counter(tuple(ids[i : i + 2]) for i in range(len(ids) - 1))
    n1, n2, n3, n4 = (sum(1 for c in counts.values() if c == r) for r in (1, 2, 3, 4))
    y = n1 / (n1 + 2 * n2)
    assert kn.discounts[-1] == pytest.approx((1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3))


def test_higher_orders_fit_repetitive_text_better() -> None:
    ids = np.tile(IDS, 5)
    held_out = np.tile(IDS, 2)
    scores = [KneserNey(order, V).fit(ids).perplexity(held_out)[0] for order in (1, 2, 3)]
    assert scores[0] > scores[1] > scores[2]
    assert scores[0] / (len(held_out) - 1) < math.log(V)  # better than uniform


def test_skipped_ids_are_context_only() -> None:
    bos, eos = 2, 3
    documents = [[5, 6, 7], [5, 8], [5, 6, 9]]
    sequence = np.array([t for doc in documents for t in [bos, bos, *doc, eos]])
    kn = KneserNey(3, 12).fit(sequence, skip=bos)
    assert kn.log_probs(sequence, skip=bos).size == sum(len(doc) + 1 for doc in documents)
    start = kn.distribution([bos, bos])
    assert start.argmax() == 5 and start.sum() == pytest.approx(1.0)
    assert kn.distribution([eos])[bos] < kn.distribution([eos])[5]  # "<eos> <bos>" was never counted


def test_bad_input_is_explained() -> None:
    with pytest.raises(NlpRnnError, match="not fitted"):
        KneserNey(2, V).log_probs(IDS)
    with pytest.raises(NlpRnnError, match="token ids must lie in 0..4"):
        KneserNey(2, 5).fit(IDS)
    with pytest.raises(NlpRnnError, match="order must be 1 or more"):
        KneserNey(0, V)
    with pytest.raises(NlpRnnError, match="no training tokens"):
        KneserNey(2, V).fit(np.array([4]))
