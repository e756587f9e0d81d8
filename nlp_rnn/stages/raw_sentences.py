"""Sentences of raw text sampled from a corpus stage, and what the teacher stages that label them
(``silver_tags``, ``teacher_labels``) share.

Rows are visited in a seeded random order, each split into sentences and words with spaCy's
rule-based English tokenizer (:func:`nlp_rnn.text.sentences.split_sentences`); sentences of
``min_words`` to ``max_words`` words are kept until there are ``sentences`` of them. Rows are read
a block at a time, so memory does not grow with the corpus. :class:`TeacherStage` reads the rows,
and :func:`save_train_split` writes the labelled sentences as the stage's ``train`` split.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydantic

from nlp_rnn.config import Schema
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.pipeline import Stage, StageContext
from nlp_rnn.stages.corpus import SPLITS_DIR, check_columns, load_split
from nlp_rnn.stages.train_classifier import vectors_files
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


class TeacherStage(Stage):
    """A stage whose config is :class:`SentenceSampleSettings` plus ``teachers`` (model folders):
    it reads its input's text rows and re-runs when a teacher's files change."""

    missing_teachers: str  # how to get the teachers, for the error when a folder is missing

    def upstream(self) -> list[str]:
        return [self.config.input]

    def input_files(self, data_dir: Path) -> list[Path]:
        teachers = self.config.teachers
        return [f for folder in teachers for f in vectors_files(folder, "teachers", self.missing_teachers)]

    def text_rows(self, ctx: StageContext):  # -> datasets.Dataset
        """The input's split with its text column checked."""
        config = self.config
        rows = load_split(ctx.input_dir(config.input), config.split)
        check_columns(rows, [config.column], ctx.name, config.input, config.split)
        return rows

    def warn_if_short(self, ctx: StageContext, counts: SampleCounts) -> None:
        """Log that the input held fewer sentences of the word range than asked for."""
        config = self.config
        if counts.sentences < config.sentences:
            ctx.log.warning(
                "only %d sentences of %d to %d words in %s (asked for %d)",
                counts.sentences, config.min_words, config.max_words, config.input, config.sentences,
            )  # fmt: skip


def save_train_split(
    ctx: StageContext, rows: Callable[[], Iterator[dict]], features, nothing: Callable[[], str]
) -> None:
    """Write the rows that ``rows()`` yields as the stage's ``train`` split (``features``: a
    ``datasets.Features``), streamed through an Arrow cache in the stage folder, so memory stays
    bounded. When it yields none: :class:`NlpRnnError` ``"stage NAME: " + nothing()``."""
    import datasets

    written = 0

    def counted() -> Iterator[dict]:
        nonlocal written
        for row in rows():
            written += 1
            yield row

    cache = ctx.out_dir / ".cache"
    try:
        dataset = datasets.Dataset.from_generator(counted, features=features, cache_dir=str(cache))
    except ValueError:  # datasets: "corresponds to no data"
        if written:
            raise
        raise NlpRnnError(f"stage {ctx.name!r}: {nothing()}") from None
    dataset.save_to_disk(str(ctx.out_dir / SPLITS_DIR / "train"))
    del dataset
    shutil.rmtree(cache, ignore_errors=True)
