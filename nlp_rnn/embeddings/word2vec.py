"""Train word2vec with gensim from a line corpus (one tokenized sentence or paragraph per line).

We always train in gensim's ``corpus_file`` mode: its worker threads read the file themselves,
without the Python iterator and job queue that cap ``sentences=`` mode at one core's worth of
Python. A corpus therefore has to be written as a file first (``write_line_corpus``); passing a
one-shot generator is not supported at all, since gensim iterates the corpus once to build the
vocabulary and once per epoch.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pydantic
from gensim.models import KeyedVectors, Word2Vec
from gensim.models.callbacks import CallbackAny2Vec

from nlp_rnn.config import Schema
from nlp_rnn.errors import InputError

log = logging.getLogger(__name__)


class Word2VecSettings(Schema):
    """The word2vec hyperparameters (gensim's names in the descriptions).

    The defaults are gensim's except ``window`` (10, not 5) and ``sample`` (1e-4, not 1e-3):
    on our Wikipedia benchmark (scripts/bench_word2vec.py) both raise analogy accuracy and
    WordSim353 correlation, and the stronger subsampling also makes training faster.
    """

    algorithm: Literal["skipgram", "cbow"] = pydantic.Field("skipgram", description="sg=1 or sg=0")
    loss: Literal["negative", "hierarchical_softmax"] = pydantic.Field(
        "negative", description="negative sampling (negative=k) or hierarchical softmax (hs=1)"
    )
    negative: int = pydantic.Field(
        5, ge=1, le=64, description="noise words per positive one (negative sampling)"
    )
    dim: int = pydantic.Field(100, ge=1, le=4096, description="vector_size")
    window: int = pydantic.Field(10, ge=1, le=100, description="maximum distance to a context word")
    epochs: int = pydantic.Field(5, ge=1, le=1000, description="passes over the corpus")
    min_count: int = pydantic.Field(5, ge=1, description="ignore words seen fewer times")
    max_vocab: int | None = pydantic.Field(None, ge=1, description="max_final_vocab: keep the most frequent")
    sample: float = pydantic.Field(
        1e-4, ge=0.0, lt=1.0, description="subsampling threshold for frequent words (gensim: 1e-3)"
    )
    alpha: float = pydantic.Field(0.025, gt=0.0, le=1.0, description="initial learning rate")
    min_alpha: float = pydantic.Field(1e-4, ge=0.0, le=1.0, description="final learning rate")
    workers: int | None = pydantic.Field(
        None, ge=1, le=256, description="training threads (default: every core); 1 for reproducible vectors"
    )

    def threads(self) -> int:
        return self.workers or os.cpu_count() or 1

    def gensim_params(self, seed: int) -> dict[str, Any]:
        """Keyword arguments for ``gensim.models.Word2Vec`` (without the corpus)."""
        negative_sampling = self.loss == "negative"
        return {
            "sg": int(self.algorithm == "skipgram"),
            "hs": int(not negative_sampling),
            "negative": self.negative if negative_sampling else 0,
            "vector_size": self.dim,
            "window": self.window,
            "epochs": self.epochs,
            "min_count": self.min_count,
            "max_final_vocab": self.max_vocab,
            "sample": self.sample,
            "alpha": self.alpha,
            "min_alpha": self.min_alpha,
            "workers": self.threads(),
            "seed": seed,
        }


@dataclass
class TrainResult:
    """A trained model and how long it took."""

    model: Word2Vec
    corpus_words: int  # raw tokens in one pass over the corpus file
    vocab_seconds: float  # gensim's vocabulary scan
    train_seconds: float  # the epochs themselves

    @property
    def vectors(self) -> KeyedVectors:
        return self.model.wv

    @property
    def words_per_second(self) -> float:
        """Raw corpus tokens processed per second of training (all epochs), gensim's own measure."""
        return self.corpus_words * self.model.epochs / max(self.train_seconds, 1e-9)

    def metrics(self) -> dict[str, float | int]:
        return {
            "vocab_size": len(self.model.wv),
            "corpus_tokens": self.corpus_words,
            "vocab_seconds": round(self.vocab_seconds, 3),
            "train_seconds": round(self.train_seconds, 3),
            "words_per_second": round(self.words_per_second, 1),
        }


def train_word2vec(
    corpus_file: str | os.PathLike[str], settings: Word2VecSettings | None = None, *, seed: int = 0
) -> TrainResult:
    """Train word2vec on a line corpus file in gensim's ``corpus_file`` mode.

    Raises :class:`InputError` when the file has no tokens, or no word reaches ``min_count``.
    With ``workers=1`` and a fixed ``seed`` the vectors are identical from run to run; with more
    threads, the order in which they update shared weights varies, as in every word2vec.
    """
    settings = settings or Word2VecSettings()
    path = Path(corpus_file)
    if isinstance(corpus_file, (list, tuple)) or not path.is_file():
        raise InputError("expected a line corpus file (write it with write_line_corpus)", path)
    if not _has_tokens(path):
        raise InputError("the corpus is empty: no tokens to train word2vec on", path, 1)
    model = Word2Vec(**settings.gensim_params(seed))

    started = time.perf_counter()
    model.build_vocab(corpus_file=str(path))
    vocab_seconds = time.perf_counter() - started
    if len(model.wv) == 0:
        raise InputError(
            f"no word occurs at least min_count={settings.min_count} times "
            f"({model.corpus_total_words} tokens in all); lower min_count or add text",
            path,
        )
    log.info(
        "word2vec: %d tokens, %d words kept (min_count=%d); training %d epochs on %d threads",
        model.corpus_total_words,
        len(model.wv),
        settings.min_count,
        settings.epochs,
        settings.threads(),
    )
    started = time.perf_counter()
    model.train(
        corpus_file=str(path),
        total_words=model.corpus_total_words,
        epochs=model.epochs,
        callbacks=[_EpochLogger()],  # gensim keeps no callbacks from the constructor
    )
    train_seconds = time.perf_counter() - started
    result = TrainResult(model, model.corpus_total_words, vocab_seconds, train_seconds)
    log.info("word2vec: trained in %.1f s (%.0f words/s)", train_seconds, result.words_per_second)
    return result


def _has_tokens(path: Path) -> bool:
    """True when the file has a non-whitespace byte; reads only as far as the first one."""
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            if chunk.strip():
                return True
    return False


class _EpochLogger(CallbackAny2Vec):
    """Log each epoch's duration, so a long run shows progress in run.log."""

    def __init__(self) -> None:
        self.epoch = 0
        self.started = 0.0

    def on_epoch_begin(self, model: Word2Vec) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, model: Word2Vec) -> None:
        self.epoch += 1
        log.info(
            "word2vec: epoch %d/%d done in %.1f s",
            self.epoch,
            model.epochs,
            time.perf_counter() - self.started,
        )
