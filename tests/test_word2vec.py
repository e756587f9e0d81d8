"""Tests for nlp_rnn.embeddings.word2vec: settings, determinism, bad corpora."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pydantic
import pytest
from gensim.test.utils import datapath

from nlp_rnn.embeddings.word2vec import Word2VecSettings, train_word2vec
from nlp_rnn.errors import InputError

LEE = datapath("lee_background.cor")  # 300 news paragraphs, 60k tokens: trains in under a second


def planted_corpus(path: Path, lines: int = 600, seed: int = 0) -> Path:
    """Sentences drawn from two disjoint topics, so that neighbours are predictable."""
    rng = random.Random(seed)
    topics = [["cat", "dog", "mouse", "horse", "cow"], ["red", "green", "blue", "yellow", "pink"]]
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(lines):
            handle.write(" ".join(rng.choices(rng.choice(topics), k=8)) + "\n")
    return path


def test_gensim_params() -> None:
    params = Word2VecSettings(algorithm="cbow", loss="hierarchical_softmax", dim=50, workers=3).gensim_params(
        7
    )
    assert params["sg"] == 0 and params["hs"] == 1 and params["negative"] == 0
    assert params["vector_size"] == 50 and params["workers"] == 3 and params["seed"] == 7
    params = Word2VecSettings(negative=10).gensim_params(0)
    assert params["sg"] == 1 and params["hs"] == 0 and params["negative"] == 10
    assert params["workers"] >= 1  # None means every core


def test_settings_reject_unknown_and_bad_values() -> None:
    with pytest.raises(pydantic.ValidationError, match="extra_forbidden|Extra inputs"):
        Word2VecSettings(dimension=100)
    with pytest.raises(pydantic.ValidationError):
        Word2VecSettings(window=0)
    with pytest.raises(pydantic.ValidationError):
        Word2VecSettings(algorithm="glove")


def test_same_seed_one_worker_gives_identical_vectors() -> None:
    settings = Word2VecSettings(workers=1, epochs=2, dim=32)
    first = train_word2vec(LEE, settings, seed=5)
    second = train_word2vec(LEE, settings, seed=5)
    assert first.vectors.index_to_key == second.vectors.index_to_key
    np.testing.assert_array_equal(first.vectors.vectors, second.vectors.vectors)
    other = train_word2vec(LEE, settings, seed=6)
    assert not np.array_equal(first.vectors.vectors, other.vectors.vectors)


def test_metrics_and_vocabulary() -> None:
    result = train_word2vec(LEE, Word2VecSettings(workers=1, epochs=1, dim=16, min_count=5), seed=0)
    metrics = result.metrics()
    assert metrics["corpus_tokens"] == 59890  # gensim's count of the file's tokens
    assert metrics["vocab_size"] == len(result.vectors) > 1000
    assert metrics["words_per_second"] > 0 and metrics["train_seconds"] > 0
    assert result.vectors.vector_size == 16


@pytest.mark.parametrize(
    ("algorithm", "loss"),
    [
        ("skipgram", "negative"),
        ("cbow", "negative"),
        ("skipgram", "hierarchical_softmax"),
        ("cbow", "hierarchical_softmax"),
    ],
)
def test_learns_planted_topics(tmp_path: Path, algorithm: str, loss: str) -> None:
    corpus = planted_corpus(tmp_path / "topics.txt")
    # Every word of a ten-word corpus is "frequent": subsampling would drop nearly all of them.
    settings = Word2VecSettings(
        algorithm=algorithm, loss=loss, dim=16, window=3, epochs=10, min_count=1, sample=0, workers=1
    )
    kv = train_word2vec(corpus, settings, seed=1).vectors
    animals = {"cat", "dog", "mouse", "horse", "cow"}
    nearest = [word for word, _ in kv.most_similar("cat", topn=4)]
    assert set(nearest) <= animals


def test_empty_corpus(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("\n  \n\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        train_word2vec(path)
    assert caught.value.path == str(path) and caught.value.line == 1
    assert "the corpus is empty" in caught.value.problem


def test_no_word_reaches_min_count(tmp_path: Path) -> None:
    path = tmp_path / "rare.txt"
    path.write_text("every word here is rare\nsome twice twice\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"rare.txt: no word occurs at least min_count=5 times \(8 tokens"):
        train_word2vec(path, Word2VecSettings(workers=1))


def test_needs_a_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected a line corpus file"):
        train_word2vec(tmp_path)
    with pytest.raises(InputError, match="expected a line corpus file"):
        train_word2vec(tmp_path / "missing.txt")
