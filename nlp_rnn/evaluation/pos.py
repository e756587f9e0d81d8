"""Part-of-speech evaluation: UPOS and XPOS accuracy, accuracy on words unseen in training,
per-tag precision/recall/F1 and a confusion matrix, from a gold and a predicted CoNLL-U file.

The two files must hold the same sentences with the same words (gold tokenization); a tag the
model never saw in training is simply a wrong answer (the tag set is the union of both files').
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from nlp_rnn.data.conllu import iter_numbered_sentences
from nlp_rnn.errors import InputError
from nlp_rnn.evaluation.classification import ClassificationReport, classification_report, plot_confusion
from nlp_rnn.fileio import atomic_file

REPORT_FILE = "report.json"
CONFUSION_FILE = "confusion_upos.png"


@dataclass
class PosReport:
    """Word-level tagging scores; ``unseen_*`` only when the training words are known."""

    sentences: int
    words: int
    upos_accuracy: float
    xpos_accuracy: float | None
    unseen_words: int | None
    unseen_upos_accuracy: float | None
    unseen_xpos_accuracy: float | None
    upos: ClassificationReport
    xpos: ClassificationReport | None

    def metrics(self) -> dict[str, float]:
        """The headline numbers, flat (for metrics.json)."""
        flat: dict[str, float] = {"upos_accuracy": self.upos_accuracy, "words": self.words}
        for name in ("xpos_accuracy", "unseen_words", "unseen_upos_accuracy", "unseen_xpos_accuracy"):
            value = getattr(self, name)
            if value is not None:
                flat[name] = value
        return flat

    def summary(self) -> str:
        """The headline numbers as a few lines of text."""
        lines = [
            f"words: {self.words} in {self.sentences} sentences",
            f"UPOS accuracy: {100 * self.upos_accuracy:.2f}",
        ]
        if self.xpos_accuracy is not None:
            lines.append(f"XPOS accuracy: {100 * self.xpos_accuracy:.2f}")
        if self.unseen_words is not None:
            share = 100 * self.unseen_words / max(self.words, 1)
            text = f"words unseen in training: {self.unseen_words} ({share:.1f}%)"
            if self.unseen_upos_accuracy is not None:
                text += f", UPOS accuracy on them {100 * self.unseen_upos_accuracy:.2f}"
            if self.unseen_xpos_accuracy is not None:
                text += f", XPOS {100 * self.unseen_xpos_accuracy:.2f}"
            lines.append(text)
        return "\n".join(lines)


@dataclass
class TaggedWords:
    """Flat, aligned word-level columns of a pair of files."""

    forms: list[str]
    gold_upos: list[str]
    pred_upos: list[str]
    gold_xpos: list[str]
    pred_xpos: list[str]
    sentences: int


def read_aligned(gold: str | os.PathLike[str], pred: str | os.PathLike[str]) -> TaggedWords:
    """Read both CoNLL-U files, checking that they hold the same sentences and words."""
    words = TaggedWords([], [], [], [], [], 0)
    gold_iter = iter_numbered_sentences(gold)
    for line, predicted in iter_numbered_sentences(pred):
        reference = next(gold_iter, None)
        if reference is None:
            raise InputError(f"more sentences than the gold file {gold} ({words.sentences})", pred, line)
        gold_line, reference = reference
        if predicted["tokens"] != reference["tokens"]:
            difference = _first_difference(reference["tokens"], predicted["tokens"])
            raise InputError(
                f"sentence {words.sentences + 1} has words {difference}"
                f" where the gold file {gold} (line {gold_line}) differs: evaluation needs gold tokenization",
                pred,
                line,
            )
        words.forms += predicted["tokens"]
        words.gold_upos += reference["upos"]
        words.pred_upos += predicted["upos"]
        words.gold_xpos += reference["xpos"]
        words.pred_xpos += predicted["xpos"]
        words.sentences += 1
    rest = next(gold_iter, None)
    if rest is not None:
        raise InputError(
            f"the predictions end after {words.sentences} sentences; the gold file has more", gold, rest[0]
        )
    if not words.sentences:
        raise InputError("no sentences to evaluate", pred)
    return words


def _first_difference(gold: Sequence[str], pred: Sequence[str]) -> str:
    for index, (a, b) in enumerate(zip(gold, pred, strict=False)):  # may differ in length
        if a != b:
            return f"{b!r} at word {index + 1} (gold {a!r})"
    return f"{len(pred)} words (gold {len(gold)})"


def _has_tags(tags: Iterable[str]) -> bool:
    return any(tag != "_" for tag in tags)


def pos_report(words: TaggedWords, training_words: Iterable[str] | None = None) -> PosReport:
    """Scores of the predicted tags against the gold ones (XPOS when both files have it)."""
    unseen = None
    if training_words is not None:
        known = set(training_words)
        unseen = np.fromiter((form not in known for form in words.forms), dtype=bool, count=len(words.forms))

    def score(gold: list[str], pred: list[str]) -> tuple[float, float | None, ClassificationReport]:
        labels = sorted(set(gold) | set(pred))
        index = {label: i for i, label in enumerate(labels)}
        gold_ids = np.fromiter((index[t] for t in gold), dtype=np.int64, count=len(gold))
        pred_ids = np.fromiter((index[t] for t in pred), dtype=np.int64, count=len(pred))
        report = classification_report(gold_ids, pred_ids, labels)
        correct = gold_ids == pred_ids
        unseen_accuracy = float(correct[unseen].mean()) if unseen is not None and unseen.any() else None
        return float(correct.mean()), unseen_accuracy, report

    upos_accuracy, unseen_upos, upos = score(words.gold_upos, words.pred_upos)
    xpos_accuracy = unseen_xpos = xpos = None
    if _has_tags(words.gold_xpos) and _has_tags(words.pred_xpos):
        xpos_accuracy, unseen_xpos, xpos = score(words.gold_xpos, words.pred_xpos)
    return PosReport(
        sentences=words.sentences,
        words=len(words.forms),
        upos_accuracy=upos_accuracy,
        xpos_accuracy=xpos_accuracy,
        unseen_words=int(unseen.sum()) if unseen is not None else None,
        unseen_upos_accuracy=unseen_upos,
        unseen_xpos_accuracy=unseen_xpos,
        upos=upos,
        xpos=xpos,
    )


def write_pos_report(folder: str | Path, report: PosReport, title: str = "") -> Path:
    """Write ``report.json`` (everything) and ``confusion_upos.png`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_file(folder / REPORT_FILE, "w", encoding="utf-8") as handle:
        json.dump(asdict(report), handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    plot_confusion(report.upos.confusion, report.upos.labels, folder / CONFUSION_FILE, title or "UPOS")
    return folder
