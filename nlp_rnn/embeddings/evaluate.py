"""Intrinsic evaluation of word vectors: analogies, word similarity, and vocabulary coverage.

The benchmark files ship with gensim (``gensim.test.utils.datapath``): Google's analogy questions
(``questions-words.txt``), WordSim353 and SimLex-999. Scoring uses gensim's own
``evaluate_word_analogies`` / ``evaluate_word_pairs`` so that our numbers mean what everybody's
mean: analogies by 3CosAdd, restricted to the 30,000 most frequent words, questions with an
unknown word skipped, case-insensitive matching.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pydantic
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from nlp_rnn.config import Schema
from nlp_rnn.embeddings.vectors_io import lowercase_index
from nlp_rnn.errors import ConfigError, InputError

if TYPE_CHECKING:
    from nlp_rnn.text.tokenizers import Tokenizer

ANALOGY_RESTRICT_VOCAB = 30_000  # the customary cut-off for questions-words.txt
SIMILARITY_DATASETS = {"ws353": "wordsim353.tsv", "simlex": "simlex999.txt"}
# The first five sections of questions-words.txt are semantic; the "gram*" ones syntactic.
_SEMANTIC_PREFIXES = ("capital-", "currency", "city-in-state", "family")


@dataclass
class AnalogyResult:
    """Accuracy on analogy questions ``a : b :: c : ?`` whose four words are all known."""

    accuracy: float  # correct / answered
    answered: int
    skipped: int  # questions with a word outside the restricted vocabulary
    semantic_accuracy: float
    syntactic_accuracy: float
    sections: dict[str, float] = field(default_factory=dict)


@dataclass
class SimilarityResult:
    """Correlation between cosine similarities and human judgements on word pairs."""

    spearman: float
    pearson: float
    pairs: int  # pairs scored
    oov_pairs: int  # pairs skipped because a word has no vector


@dataclass
class CoverageResult:
    """How much of a text the vectors cover: running tokens and distinct types.

    A token counts as found when the vectors have it as is, or up to case (the usual fallback
    when vectors were trained on lowercased text).
    """

    tokens: int
    tokens_found: int
    tokens_found_exact: int
    types: int
    types_found: int
    top_missing: list[tuple[str, int]] = field(default_factory=list)

    @property
    def token_coverage(self) -> float:
        return self.tokens_found / self.tokens if self.tokens else 0.0

    @property
    def type_coverage(self) -> float:
        return self.types_found / self.types if self.types else 0.0

    def metrics(self, prefix: str = "") -> dict[str, float | int]:
        return {
            f"{prefix}token_coverage": round(self.token_coverage, 6),
            f"{prefix}type_coverage": round(self.type_coverage, 6),
            f"{prefix}tokens": self.tokens,
        }


def evaluate_analogies(
    kv: KeyedVectors,
    restrict_vocab: int = ANALOGY_RESTRICT_VOCAB,
    questions: str | os.PathLike[str] | None = None,
    batch_size: int = 1024,
) -> AnalogyResult:
    """Score Google's analogy questions (or another file in the same format) by 3CosAdd.

    Gives the same answers as gensim's ``evaluate_word_analogies(case_insensitive=True)``: words
    are matched upper-cased against the ``restrict_vocab`` most frequent keys (the most frequent
    spelling wins), questions with another word are skipped, the three input words are excluded,
    and the first of the five best candidates whose spelling differs from the inputs is the answer.
    It scores a batch of questions with one matrix product instead of one ``most_similar`` call
    each, which takes seconds instead of minutes for a 30,000-word restriction.
    """
    path = str(questions) if questions is not None else datapath("questions-words.txt")
    keys = [str(key).upper() for key in kv.index_to_key[:restrict_vocab]]
    index: dict[str, int] = {}
    for row in range(len(keys) - 1, -1, -1):  # backwards, so the most frequent spelling wins
        index[keys[row]] = row
    unit = kv.get_normed_vectors()[: len(keys)]  # restricted vocab x dim
    counts: dict[str, tuple[int, int]] = {}  # section -> (correct, answered)
    total_questions = 0
    for section, quads in _read_questions(path):
        total_questions += len(quads)
        known = [quad for quad in quads if all(word in index for word in quad)]
        correct = sum(
            _count_correct(unit, keys, index, known[start : start + batch_size])
            for start in range(0, len(known), batch_size)
        )
        previous = counts.get(section, (0, 0))
        counts[section] = (previous[0] + correct, previous[1] + len(known))
    semantic = [value for name, value in counts.items() if name.startswith(_SEMANTIC_PREFIXES)]
    syntactic = [value for name, value in counts.items() if not name.startswith(_SEMANTIC_PREFIXES)]
    correct = sum(c for c, _ in counts.values())
    answered = sum(n for _, n in counts.values())
    return AnalogyResult(
        accuracy=_ratio(correct, answered),
        answered=answered,
        skipped=total_questions - answered,
        semantic_accuracy=_ratio(sum(c for c, _ in semantic), sum(n for _, n in semantic)),
        syntactic_accuracy=_ratio(sum(c for c, _ in syntactic), sum(n for _, n in syntactic)),
        sections={name: _ratio(c, n) for name, (c, n) in counts.items()},
    )


def _read_questions(path: str) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    """Sections of upper-cased ``a b c d`` questions; lines that are not four words are skipped."""
    sections: list[tuple[str, list[tuple[str, str, str, str]]]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.startswith(": "):
                sections.append((line[2:].strip(), []))
                continue
            words = line.upper().split()
            if len(words) != 4:
                continue
            if not sections:
                raise InputError("an analogy question before the first ': section' line", path, number)
            sections[-1][1].append((words[0], words[1], words[2], words[3]))
    return sections


def _count_correct(
    unit: np.ndarray, keys: list[str], index: dict[str, int], quads: list[tuple[str, str, str, str]]
) -> int:
    if not quads:
        return 0
    ids = np.array([[index[a], index[b], index[c]] for a, b, c, _ in quads])  # batch x 3
    # b - a + c on unit vectors; the ranking by cosine equals gensim's normalised mean's.
    query = unit[ids[:, 1]] + unit[ids[:, 2]] - unit[ids[:, 0]]  # batch x dim
    scores = query @ unit.T  # batch x vocab
    np.put_along_axis(scores, ids, -np.inf, axis=1)  # the inputs themselves are never answers
    top = min(5, scores.shape[1] - 3)
    if top <= 0:
        return 0
    best = np.argpartition(-scores, top - 1, axis=1)[:, :top]  # batch x top, unordered
    order = np.take_along_axis(scores, best, axis=1).argsort(axis=1)[:, ::-1]
    best = np.take_along_axis(best, order, axis=1)  # batch x top, best first
    correct = 0
    for (a, b, c, expected), candidates in zip(quads, best.tolist(), strict=True):
        predicted = None
        for row in candidates:
            predicted = keys[row]
            if predicted not in (a, b, c):  # another spelling of an input word is skipped too
                break
        correct += predicted == expected
    return correct


def evaluate_similarity(kv: KeyedVectors, dataset: str = "ws353") -> SimilarityResult:
    """Spearman (the usual headline) and Pearson correlation on ``ws353``, ``simlex`` or a TSV path.

    With fewer than three known pairs there is no meaningful correlation: both are reported as
    0.0 with ``pairs`` saying how many were scored (metrics stay plain JSON numbers, no NaN).
    """
    path = datapath(SIMILARITY_DATASETS[dataset]) if dataset in SIMILARITY_DATASETS else str(dataset)
    total = _count_pairs(path)
    try:
        pearson, spearman, oov_percent = kv.evaluate_word_pairs(path, case_insensitive=True)
    except ValueError:  # gensim raises when no pair has both words
        return SimilarityResult(spearman=0.0, pearson=0.0, pairs=0, oov_pairs=total)
    oov_pairs = round(total * oov_percent / 100)
    return SimilarityResult(
        spearman=_finite(spearman[0]),
        pearson=_finite(pearson[0]),
        pairs=total - oov_pairs,
        oov_pairs=oov_pairs,
    )


def vocabulary_coverage(
    kv: KeyedVectors, sentences: Iterable[Sequence[str]], top_missing: int = 20
) -> CoverageResult:
    """Coverage of tokenized ``sentences`` by the vectors' vocabulary (exact, then lowercased)."""
    counts: Counter[str] = Counter()
    for tokens in sentences:
        counts.update(tokens)
    vocab = kv.key_to_index
    lowercased = lowercase_index(kv)
    found_exact = found = types_found = 0
    missing: Counter[str] = Counter()
    for token, count in counts.items():
        if token in vocab:
            found_exact += count
        elif token.lower() not in lowercased:
            missing[token] = count
            continue
        found += count
        types_found += 1
    return CoverageResult(
        tokens=sum(counts.values()),
        tokens_found=found,
        tokens_found_exact=found_exact,
        types=len(counts),
        types_found=types_found,
        top_missing=missing.most_common(top_missing),
    )


class CoverageSet(Schema):
    """A dev set whose vocabulary coverage is reported: a corpus, split and column."""

    name: str = pydantic.Field(description="name used in metrics (coverage.<name>.token_coverage)")
    source: str = pydantic.Field(description="catalog name, local path or hf:owner/name")
    split: str = "dev"
    column: str = pydantic.Field("text", description="a text column (tokenized) or a token-list column")
    options: dict[str, Any] = pydantic.Field(default_factory=dict, description="load_corpus options")


# The dev sets of the project's tasks (test splits are deliberately not available).
DEFAULT_COVERAGE_SETS: tuple[CoverageSet, ...] = (
    CoverageSet(name="sst2_dev", source="sst2", split="dev", column="text"),
    CoverageSet(name="ewt_dev", source="ud_english_ewt", split="dev", column="tokens"),
    CoverageSet(
        name="multi30k_en_dev",
        source="multi30k",
        split="dev",
        column="tgt",
        options={"src_lang": "de", "tgt_lang": "en"},
    ),
    CoverageSet(name="gigaword_dev", source="gigaword", split="dev", column="src"),
)


def parse_coverage_sets(specs: Iterable[str]) -> list[CoverageSet]:
    """Resolve command-line names: a default set's name, ``all``, or ``SOURCE:SPLIT:COLUMN``."""
    known = {spec.name: spec for spec in DEFAULT_COVERAGE_SETS}
    chosen: list[CoverageSet] = []
    for spec in specs:
        if spec == "all":
            chosen.extend(DEFAULT_COVERAGE_SETS)
        elif spec in known:
            chosen.append(known[spec])
        elif spec.count(":") == 2 and not spec.startswith("hf:"):
            source, split, column = spec.split(":")
            chosen.append(
                CoverageSet(name=f"{Path(source).name}_{split}", source=source, split=split, column=column)
            )
        else:
            raise ConfigError(
                f"--coverage {spec!r}: expected one of {', '.join(known)}, all, or SOURCE:SPLIT:COLUMN"
            )
    return chosen


def set_coverage(
    kv: KeyedVectors,
    spec: CoverageSet,
    tokenizer: Tokenizer,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> CoverageResult:
    """Load a dev set and measure how much of it the vectors cover."""
    from nlp_rnn.data.catalog import load_corpus

    dataset = load_corpus(spec.source, spec.split, data_dir=data_dir, cache_dir=cache_dir, **spec.options)
    if spec.column not in dataset.column_names:
        raise ConfigError(
            f"coverage set {spec.name!r}: {spec.source} has no column {spec.column!r}; "
            f"columns: {', '.join(dataset.column_names)}"
        )
    values = dataset[spec.column]
    if values and isinstance(values[0], str):
        values = tokenizer.tokenize_batch(values)
    return vocabulary_coverage(kv, values)


def evaluate_vectors(
    kv: KeyedVectors, restrict_vocab: int = ANALOGY_RESTRICT_VOCAB
) -> dict[str, float | int]:
    """The headline numbers as flat metrics: analogy accuracy, WS353 and SimLex Spearman."""
    analogy = evaluate_analogies(kv, restrict_vocab)
    ws353 = evaluate_similarity(kv, "ws353")
    simlex = evaluate_similarity(kv, "simlex")
    return {
        "analogy_accuracy": round(analogy.accuracy, 6),
        "analogy_semantic": round(analogy.semantic_accuracy, 6),
        "analogy_syntactic": round(analogy.syntactic_accuracy, 6),
        "analogy_answered": analogy.answered,
        "ws353_spearman": round(ws353.spearman, 6),
        "ws353_pairs": ws353.pairs,
        "simlex_spearman": round(simlex.spearman, 6),
        "simlex_pairs": simlex.pairs,
        "vocab_size": len(kv),
    }


def result_dict(result: AnalogyResult | SimilarityResult | CoverageResult) -> dict:
    """A JSON-ready dict of any result above (coverage ratios included)."""
    data = asdict(result)
    if isinstance(result, CoverageResult):
        data.update(token_coverage=result.token_coverage, type_coverage=result.type_coverage)
    return data


def _ratio(numerator: int, denominator: int) -> float:
    # An empty denominator (no answerable question) scores 0, not NaN, so metrics stay JSON numbers.
    return numerator / denominator if denominator else 0.0


def _finite(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else 0.0


def _count_questions(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(
            1 for line in handle if line.strip() and not line.startswith(":") and len(line.split()) == 4
        )


def _count_pairs(path: str) -> int:
    with open(Path(path), encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip() and not line.startswith("#"))
