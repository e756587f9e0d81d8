"""ROUGE-1, ROUGE-2 and ROUGE-L F1 (Lin 2004) with bootstrap confidence intervals, and the lead baseline.

Scores come from Google's ``rouge-score`` package with Porter stemming on, the setting the
summarization literature reports: each hypothesis is scored against its reference, and a corpus
score is the mean of the per-pair F1 values, times 100. The confidence interval of each mean is
the percentile bootstrap (Efron 1979): the pairs are resampled with replacement ``samples`` times
from a seeded generator and the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of
the resampled means are reported.

``rouge-score`` lowercases and keeps only letters and digits, so Gigaword's ``#`` digit
placeholders and punctuation count for nothing, as in the published numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nlp_rnn.errors import NlpRnnError

METRICS = ("rouge1", "rouge2", "rougeL")
_RESAMPLE_CHUNK = 100  # bootstrap resamples drawn at once (memory: chunk x pairs indices)


@dataclass(frozen=True)
class RougeScore:
    """One metric's corpus F1 (x100) and its bootstrap interval."""

    f1: float
    low: float
    high: float


@dataclass(frozen=True)
class RougeReport:
    """ROUGE-1/2/L over ``pairs`` pairs, with the bootstrap settings used."""

    scores: dict[str, RougeScore]
    pairs: int
    samples: int
    confidence: float

    def to_dict(self) -> dict[str, float | int]:
        """Flat keys: ``rouge1``, ``rouge1_low``, ``rouge1_high``, ..., ``pairs``."""
        flat: dict[str, float | int] = {}
        for name, score in self.scores.items():
            flat.update({name: score.f1, f"{name}_low": score.low, f"{name}_high": score.high})
        return {**flat, "pairs": self.pairs, "bootstrap_samples": self.samples, "confidence": self.confidence}

    def summary(self) -> str:
        """One line per metric: ``ROUGE-1 F1 37.52 (95% CI 36.71-38.30)``."""
        percent = round(100 * self.confidence)
        names = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L"}
        return "\n".join(
            f"{names[name]} F1 {score.f1:.2f} ({percent}% CI {score.low:.2f}-{score.high:.2f})"
            for name, score in self.scores.items()
        )


def pair_scores(hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Per-pair ROUGE-1/2/L F1 (pairs x 3, in 0..1), stemming on."""
    from rouge_score import rouge_scorer

    if len(hypotheses) != len(references):
        raise NlpRnnError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    table = np.zeros((len(hypotheses), len(METRICS)))
    for row, (hypothesis, reference) in enumerate(zip(hypotheses, references, strict=True)):
        scores = scorer.score(reference, hypothesis)
        table[row] = [scores[name].fmeasure for name in METRICS]
    return table


def rouge(
    hypotheses: Sequence[str],
    references: Sequence[str],
    samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> RougeReport:
    """Corpus ROUGE-1/2/L F1 (x100) with percentile-bootstrap intervals (``samples`` = 0: no interval,
    low = high = the score)."""
    if not 0 < confidence < 1:
        raise NlpRnnError(f"confidence must be between 0 and 1, got {confidence}")
    if not hypotheses:
        raise NlpRnnError("no pairs to score")
    table = pair_scores(hypotheses, references) * 100  # N x 3
    means = table.mean(axis=0)  # 3
    if samples > 0:
        resampled = _bootstrap_means(table, samples, seed)  # samples x 3
        tail = (1 - confidence) / 2
        lows, highs = np.quantile(resampled, [tail, 1 - tail], axis=0)  # 3, 3
    else:
        lows = highs = means
    scores = {
        name: RougeScore(round(float(means[i]), 2), round(float(lows[i]), 2), round(float(highs[i]), 2))
        for i, name in enumerate(METRICS)
    }
    return RougeReport(scores, len(table), samples, confidence)


def _bootstrap_means(table: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Column means of ``samples`` resamples (with replacement) of the rows of ``table`` (N x m)."""
    rng = np.random.default_rng(seed)
    rows = len(table)
    chunks = []
    for start in range(0, samples, _RESAMPLE_CHUNK):
        count = min(_RESAMPLE_CHUNK, samples - start)
        index = rng.integers(0, rows, size=(count, rows))  # count x N
        chunks.append(table[index].mean(axis=1))  # count x m
    return np.concatenate(chunks)


def lead(articles: Sequence[str], words: int) -> list[str]:
    """The first-k baseline: each article's first ``words`` whitespace tokens."""
    return [" ".join(article.split()[:words]) for article in articles]
