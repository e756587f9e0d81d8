"""Sentences of raw text sampled from a corpus stage: what the teacher stages (``silver_tags``,
``teacher_labels``) label.

Rows are visited in a seeded random order, each split into sentences and words with spaCy's
rule-based English tokenizer (:func:`nlp_rnn.text.sentences.split_sentences`); sentences of
``min_words`` to ``max_words`` words are kept until there are ``limit`` of them. Rows are read a
block at a time, so memory does not grow with the corpus.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pydantic

from nlp_rnn.config import Schema
from nlp_rnn.text.sentences import Sentence, split_sentences

ROW_BLOCK = 2000  # rows read at a time


class SentenceSampleSettings(Schema):
    """Which sentences of a corpus stage's raw text a teacher stage labels (its config's fields)."""

    input: str = pydantic.Field(description="a corpus stage with raw text")
    column: str = pydantic.Field("text", description="its column of raw text (a paragraph or line per row)")
    split: str = pydantic.Field("train", description="its split to read")
    sentences: int = pydantic.Field(20_000, ge=1, description="stop after this many kept sentences")
    min_words: int = pydantic.Field(3, ge=1, description="shorter sentences are skipped")
    max_words: int = pydantic.Field(60, ge=1, description="longer sentences are skipped")

    @pydantic.model_validator(mode="after")
    def _word_range(self) -> SentenceSampleSettings:
        if self.min_words > self.max_words:
            raise ValueError(f"min_words ({self.min_words}) is above max_words ({self.max_words})")
        return self


@dataclass
class SampleCounts:
    """How far sampling got: rows read and sentences kept."""

    rows_read: int = 0
    sentences: int = 0


def sample_sentences(
    rows, settings: SentenceSampleSettings, seed: int, counts: SampleCounts
) -> Iterator[Sentence]:
    """The kept sentences of ``rows`` (a ``datasets.Dataset`` with ``settings.column``), in the
    seeded order; ``counts`` is updated as they are read."""
    order = np.random.default_rng(seed).permutation(len(rows))
    column = rows.select_columns([settings.column])
    for start in range(0, len(order), ROW_BLOCK):
        texts = column[order[start : start + ROW_BLOCK]][settings.column]
        for text in texts:
            counts.rows_read += 1
            for sentence in split_sentences(text or ""):
                if settings.min_words <= len(sentence.words) <= settings.max_words:
                    yield sentence
                    counts.sentences += 1
                    if counts.sentences == settings.sentences:
                        return
