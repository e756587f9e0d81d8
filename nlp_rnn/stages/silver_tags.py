"""The ``silver_tags`` stage: raw text tagged by trained taggers, as extra training data.

Self-training and knowledge distillation in their simplest form: one or more *teacher* taggers
(model folders) tag sentences of unlabelled text, and a later ``train_tagger`` stage trains a
*student* (typically smaller and faster) on the gold treebank plus these "silver" sentences
(its ``extra_train`` setting). With several teachers, each word gets the tag of their averaged
probability distributions (an ensemble, usually more accurate than any one of them).

It reads the text column of a ``corpus`` stage (e.g. Wikipedia paragraphs), visits its rows in
a seeded random order, splits each into sentences and words with spaCy's rule-based English
tokenizer (what ``nlp-rnn tag --format text`` uses), keeps sentences of ``min_words`` to
``max_words`` words, and stops after ``sentences`` of them (:mod:`nlp_rnn.stages.raw_sentences`).
Teachers tag blocks of sentences, so memory stays bounded by a block whatever the size.

Output, in the stage folder: ``splits/train/``, a dataset with the ``tokens``, ``upos`` and
``xpos`` columns of a CoNLL-U corpus stage (``xpos`` when every teacher predicts it) and
``confidence``, the smallest averaged probability of a sentence's chosen UPOS tags.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Literal, NamedTuple

import numpy as np
import pydantic

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.fileio import chunked
from nlp_rnn.pipeline import Metrics, StageConfig, StageContext
from nlp_rnn.stages.raw_sentences import (
    SampleCounts,
    SentenceSampleSettings,
    TeacherStage,
    sample_sentences,
    save_train_split,
)

BLOCK = 2000  # sentences tagged at a time


class SilverTagsConfig(StageConfig, SentenceSampleSettings):
    kind: Literal["silver_tags"] = "silver_tags"
    teachers: list[str] = pydantic.Field(
        min_length=1, description="tagger model folders; their probabilities are averaged"
    )


class SilverTagsStage(TeacherStage):
    """Tags raw text with teacher taggers; metrics: sentences, words, teacher agreement, seconds."""

    kind = "silver_tags"
    Config = SilverTagsConfig
    missing_teachers = "train the teacher taggers first (see pipelines/pos_ewt_distilled.yaml)"

    def run(self, ctx: StageContext) -> Metrics:
        import datasets

        config = self.config
        rows = self.text_rows(ctx)
        teachers = load_teachers(config.teachers)
        has_xpos = all(t.vocabs.xpos is not None for t in teachers)
        sampled = SampleCounts()
        counts = {"words": 0, "agreeing_words": 0}
        started = time.perf_counter()

        def tagged_rows() -> Iterator[dict]:
            sentences = (s.words for s in sample_sentences(rows, config, ctx.seed, sampled))
            for block in chunked(sentences, BLOCK):
                yield from _tag_block(teachers, block, has_xpos, counts)

        features = {"tokens": datasets.Sequence(datasets.Value("string"))}
        features["upos"] = features["tokens"]
        if has_xpos:
            features["xpos"] = features["tokens"]
        features["confidence"] = datasets.Value("float32")
        save_train_split(
            ctx,
            tagged_rows,
            datasets.Features(features),
            lambda: (
                f"no sentence of {config.min_words} to {config.max_words} words in the "
                f"{sampled.rows_read} rows of {config.input!r} (column {config.column!r})"
            ),
        )
        seconds = time.perf_counter() - started
        self.warn_if_short(ctx, sampled)
        agreement = counts["agreeing_words"] / max(counts["words"], 1)
        ctx.log.info(
            "%d silver sentences (%d words) from %d rows in %.0f s; the %d teachers agree on %.2f%% "
            "of the words' UPOS",
            sampled.sentences, counts["words"], sampled.rows_read, seconds, len(teachers),
            100 * agreement,
        )  # fmt: skip
        return {
            "train.rows": sampled.sentences,
            "train.words": counts["words"],
            "rows_read": sampled.rows_read,
            "teachers": len(teachers),
            "teacher_agreement": round(agreement, 6),
            "seconds": round(seconds, 3),
        }


def load_teachers(folders: list[str]) -> list:  # -> list[TaggingPredictor]
    """The teacher taggers, checked to share their tag sets (averaging needs the same columns)."""
    from nlp_rnn.api import load_model
    from nlp_rnn.tasks.tagging import TaggingPredictor

    teachers = []
    for folder in folders:
        teacher = load_model(folder)
        if not isinstance(teacher, TaggingPredictor):
            raise NlpRnnError(f"teachers: {folder} is a {teacher.task} model, not a tagger")
        if teacher.model.upos_crf is not None:
            raise NlpRnnError(f"teachers: {folder} is a CRF tagger, which gives no per-word probabilities")
        teachers.append(teacher)
    first = teachers[0]
    for folder, teacher in zip(folders[1:], teachers[1:], strict=True):
        for name in ("upos", "xpos"):
            mine, theirs = getattr(first.vocabs, name), getattr(teacher.vocabs, name)
            if mine is not None and theirs is not None and mine.itos != theirs.itos:
                raise NlpRnnError(
                    f"teachers: {folder} has other {name.upper()} tags than {folders[0]}; "
                    "teachers must be trained on the same tag sets"
                )
    return teachers


class Ensemble(NamedTuple):
    """The teachers' view of N words: their averaged distributions and each one's own choice."""

    averaged: dict[str, np.ndarray]  # tag set ("upos", "xpos") -> N x K, the mean distribution
    choices: dict[str, np.ndarray]  # tag set -> teachers x N, each teacher's best tag id


def ensemble(teachers: list, sentences: list[list[str]], has_xpos: bool) -> Ensemble:
    """What :func:`load_teachers`' taggers say of every word of ``sentences`` (flat, in order)."""
    names = ("upos", "xpos") if has_xpos else ("upos",)
    sums: dict[str, np.ndarray] = {}
    choices: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for teacher in teachers:
        for name, distribution in zip(names, teacher.probabilities(sentences), strict=False):  # N x K
            sums[name] = sums[name] + distribution if name in sums else distribution
            choices[name].append(distribution.argmax(1))
    return Ensemble(
        {name: total / len(teachers) for name, total in sums.items()},
        {name: np.stack(ids) for name, ids in choices.items()},
    )


def _tag_block(
    teachers: list, block: list[list[str]], has_xpos: bool, counts: dict[str, int]
) -> Iterator[dict]:
    """Rows of one block: every word's tags from the teachers' averaged distributions."""
    votes = ensemble(teachers, block, has_xpos)
    upos = votes.averaged["upos"]  # N x K
    upos_ids = upos.argmax(1)
    confidence = upos[np.arange(len(upos_ids)), upos_ids]
    tags = {"upos": np.asarray(teachers[0].vocabs.upos.itos, dtype=object)[upos_ids]}
    if has_xpos:
        tags["xpos"] = np.asarray(teachers[0].vocabs.xpos.itos, dtype=object)[
            votes.averaged["xpos"].argmax(1)
        ]
    counts["words"] += len(upos_ids)
    counts["agreeing_words"] += int((votes.choices["upos"] == votes.choices["upos"][0]).all(axis=0).sum())
    start = 0
    for words in block:
        end = start + len(words)
        row = {"tokens": words, **{name: names[start:end].tolist() for name, names in tags.items()}}
        row["confidence"] = float(confidence[start:end].min())
        yield row
        start = end
