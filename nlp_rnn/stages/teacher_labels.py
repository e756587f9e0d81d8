"""The ``teacher_labels`` stage: sentences of raw text labelled by trained classifiers, as extra
training data.

Knowledge distillation for text classification: one or more *teacher* classifiers (model
folders, e.g. the same recipe trained with several seeds) label sentences of unlabelled text, and
a later ``train_classifier`` stage trains a *student* on the gold examples plus these "silver"
ones (its ``extra_train`` setting, through a ``tokenize`` stage, so that the student reads them
with its own tokenizer). Each sentence gets the label of the teachers' averaged probabilities (an
ensemble, usually more accurate than any one of them); ``min_confidence`` drops sentences on
which that average is unsure.

Sentences are sampled as the ``silver_tags`` stage samples them (:mod:`nlp_rnn.stages.raw_sentences`):
rows of a corpus stage's text column in a seeded order, split with spaCy's rule-based English
sentencizer, ``min_words`` to ``max_words`` words, ``sentences`` of them (counted before the
confidence filter). Teachers label blocks of sentences, so memory stays bounded by a block.

Output, in the stage folder: ``splits/train/``, a dataset with the columns ``text`` (the
sentence), ``label`` (the ensemble's label), ``confidence`` (its averaged probability) and
``probabilities`` (the averaged distribution, a struct with one field per label), which a student
with ``soft_targets`` trains towards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
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

BLOCK = 4096  # sentences labelled at a time


class TeacherLabelsConfig(StageConfig, SentenceSampleSettings):
    kind: Literal["teacher_labels"] = "teacher_labels"
    teachers: list[str] = pydantic.Field(
        min_length=1, description="classifier model folders (same labels); their probabilities are averaged"
    )
    min_confidence: float = pydantic.Field(
        0.0, ge=0, lt=1, description="drop sentences whose averaged probability of their label is lower"
    )


class TeacherLabelsStage(TeacherStage):
    """Labels raw sentences with teacher classifiers; metrics: sentences kept and dropped,
    label shares, the teachers' agreement, seconds."""

    kind = "teacher_labels"
    Config = TeacherLabelsConfig
    missing_teachers = "train the teacher classifiers first"

    def run(self, ctx: StageContext) -> Metrics:
        import datasets

        config = self.config
        rows = self.text_rows(ctx)
        teachers = load_teachers(config.teachers)
        labels = teachers[0].labels
        sampled = SampleCounts()
        counts = {"agreeing": 0, "no_tokens": 0}
        per_label = dict.fromkeys(labels, 0)  # sentences kept, by their label
        started = time.perf_counter()

        def labelled_rows() -> Iterator[dict]:
            sentences = (sentence.text for sentence in sample_sentences(rows, config, ctx.seed, sampled))
            for block in chunked(sentences, BLOCK):
                yield from _label_block(teachers, block, config.min_confidence, counts, per_label)

        def nothing() -> str:
            found = (
                f"{sampled.sentences} sentences, none labelled with probability {config.min_confidence:g}+"
                if sampled.sentences
                else f"no sentence of {config.min_words} to {config.max_words} words"
            )
            return f"{found} in the {sampled.rows_read} rows of {config.input!r} (column {config.column!r})"

        string, number = datasets.Value("string"), datasets.Value("float32")
        features = {"text": string, "label": string, "confidence": number}
        features["probabilities"] = {label: number for label in labels}
        save_train_split(ctx, labelled_rows, datasets.Features(features), nothing)
        seconds = time.perf_counter() - started
        self.warn_if_short(ctx, sampled)
        kept = sum(per_label.values())
        agreement = counts["agreeing"] / max(sampled.sentences - counts["no_tokens"], 1)
        shares = ", ".join(f"{label} {count}" for label, count in per_label.items())
        ctx.log.info(
            "%d of %d sentences (from %d rows) labelled in %.0f s (%s); the %d teachers agree on %.2f%%",
            kept, sampled.sentences, sampled.rows_read, seconds, shares, len(teachers),
            100 * agreement,
        )  # fmt: skip
        return {
            "train.rows": kept,
            "sentences": sampled.sentences,
            "dropped_unsure": sampled.sentences - counts["no_tokens"] - kept,
            "dropped_without_tokens": counts["no_tokens"],
            **{f"train.label.{label}": count for label, count in per_label.items()},
            "rows_read": sampled.rows_read,
            "teachers": len(teachers),
            "teacher_agreement": round(agreement, 6),
            "seconds": round(seconds, 3),
        }


def load_teachers(folders: Sequence[str]) -> list:  # -> list[ClassificationPredictor]
    """The teacher classifiers, checked to share their labels (averaging needs the same columns)."""
    from nlp_rnn.api import load_model
    from nlp_rnn.tasks.classification import ClassificationPredictor

    teachers = []
    for folder in folders:
        teacher = load_model(folder)
        if not isinstance(teacher, ClassificationPredictor):
            raise NlpRnnError(f"teachers: {folder} is a {teacher.task} model, not a classifier")
        if teachers and teacher.labels != teachers[0].labels:
            raise NlpRnnError(
                f"teachers: {folder} has the labels {teacher.labels}, {folders[0]} has {teachers[0].labels}; "
                "teachers must be trained on the same labels"
            )
        teachers.append(teacher)
    return teachers


def _label_block(
    teachers: Sequence,
    block: list[str],
    min_confidence: float,
    counts: dict[str, int],
    per_label: dict[str, int],
) -> Iterator[dict]:
    """Rows of one block: the sentences the teachers are sure enough of, with the label of their
    averaged distribution."""
    labels = teachers[0].labels
    votes = ensemble(teachers, block)
    counts["no_tokens"] += len(block) - len(votes.rows)
    counts["agreeing"] += int((votes.choices == votes.choices[0]).all(axis=0).sum())
    best = votes.averaged.argmax(1)  # N
    confidence = votes.averaged[np.arange(len(best)), best]  # N
    for row, label, probability, distribution in zip(
        votes.rows.tolist(), best.tolist(), confidence.tolist(), votes.averaged.tolist(), strict=True
    ):
        if probability >= min_confidence:
            per_label[labels[label]] += 1
            yield {
                "text": block[row],
                "label": labels[label],
                "confidence": probability,
                "probabilities": dict(zip(labels, distribution, strict=True)),
            }


class Votes(NamedTuple):
    """The teachers' view of the texts that every teacher finds tokens in."""

    rows: np.ndarray  # N, those texts' positions in the input
    averaged: np.ndarray  # N x C, the mean of the teachers' probabilities
    choices: np.ndarray  # teachers x N, each one's best class


def ensemble(teachers: Sequence, texts: Sequence[str]) -> Votes:
    """What :func:`load_teachers`' classifiers say of ``texts``; a text in which some teacher's
    tokenizer finds no token is left out (``Votes.rows`` lists the others)."""
    from nlp_rnn.tasks.classification import predict_examples

    probabilities = np.full((len(teachers), len(texts), len(teachers[0].labels)), np.nan, dtype=np.float32)
    for teacher, scores in zip(teachers, probabilities, strict=True):
        encoded = teacher.encode(texts, skip_empty=True)
        scores[encoded.rows] = predict_examples(teacher.model, encoded, device=teacher.device)
    rows = np.flatnonzero(~np.isnan(probabilities).any(axis=(0, 2)))  # N
    kept = probabilities[:, rows]  # teachers x N x C
    return Votes(rows, kept.mean(0), kept.argmax(2))
