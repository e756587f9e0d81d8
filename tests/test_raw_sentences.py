"""Sampling sentences of raw text for the teacher stages (nlp_rnn/stages/raw_sentences.py)."""

from __future__ import annotations

import datasets
import numpy as np
import pydantic
import pytest

from nlp_rnn.stages.raw_sentences import SampleCounts, SentenceSampleSettings, sample_sentences

ROWS = datasets.Dataset.from_dict(
    {
        "text": [
            "One two three four. Five six.",
            "",
            "Seven eight nine ten eleven. Twelve thirteen fourteen!",
            None,
            "A b c d e f g h i j k l.",
        ]
    }
)


def settings(**values: object) -> SentenceSampleSettings:
    return SentenceSampleSettings(input="raw", **{"min_words": 3, "max_words": 10, **values})


def test_keeps_sentences_in_the_word_range_in_a_seeded_order() -> None:
    counts = SampleCounts()
    texts = [s.text for s in sample_sentences(ROWS, settings(), seed=1, counts=counts)]
    # "Five six." has 3 words with its full stop; "A b c ... l." has 13: too long
    assert sorted(texts) == sorted(
        ["One two three four.", "Five six.", "Seven eight nine ten eleven.", "Twelve thirteen fourteen!"]
    )
    assert counts == SampleCounts(rows_read=5, sentences=4)
    again = [s.text for s in sample_sentences(ROWS, settings(), seed=1, counts=SampleCounts())]
    assert again == texts  # the same seed, the same order


def test_stops_after_the_asked_number() -> None:
    full = [s.text for s in sample_sentences(ROWS, settings(), seed=0, counts=SampleCounts())]
    counts = SampleCounts()
    kept = [s.text for s in sample_sentences(ROWS, settings(sentences=2), seed=0, counts=counts)]
    assert kept == full[:2] and counts.sentences == 2
    # reading stopped at the first row of two kept sentences (rows 0 and 2) in the seeded order
    order = np.random.default_rng(0).permutation(len(ROWS)).tolist()
    assert counts.rows_read == min(order.index(0), order.index(2)) + 1


def test_word_range_is_checked() -> None:
    with pytest.raises(pydantic.ValidationError, match="min_words \\(5\\) is above max_words \\(4\\)"):
        settings(min_words=5, max_words=4)
