"""Tests for nlp_rnn.embeddings.evaluate: analogies, word similarity, coverage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from nlp_rnn.embeddings.evaluate import (
    DEFAULT_COVERAGE_SETS,
    CoverageSet,
    evaluate_analogies,
    evaluate_similarity,
    evaluate_vectors,
    parse_coverage_sets,
    result_dict,
    set_coverage,
    vocabulary_coverage,
)
from nlp_rnn.embeddings.word2vec import Word2VecSettings, train_word2vec
from nlp_rnn.errors import ConfigError
from nlp_rnn.text.tokenizers import build_tokenizer


@pytest.fixture(scope="module")
def lee_vectors() -> KeyedVectors:
    settings = Word2VecSettings(workers=1, epochs=3, dim=32, min_count=2)
    return train_word2vec(datapath("lee_background.cor"), settings, seed=1).vectors


def planted_analogies() -> KeyedVectors:
    """country = capital + (0, 0, 1); cities and countries otherwise far apart."""
    cities = {"athens": [1, 0, 0, 0], "paris": [0, 1, 0, 0], "rome": [0, 0, 0, 1]}
    countries = {"greece": [1, 0, 1, 0], "france": [0, 1, 1, 0], "italy": [0, 0, 1, 1]}
    kv = KeyedVectors(vector_size=4, count=0)
    words = {**cities, **countries, "Zebra": [0.3, 0.3, 0.3, 0.3]}
    kv.add_vectors(list(words), np.array(list(words.values()), dtype=np.float32))
    return kv


def test_analogies_on_planted_vectors(tmp_path: Path) -> None:
    questions = tmp_path / "questions.txt"
    questions.write_text(
        ": capital-common-countries\n"
        "athens greece paris france\n"
        "Paris France Rome Italy\n"  # case-insensitive
        "athens greece unicorn land\n"  # unknown words: skipped
        ": gram1-adjective-to-adverb\n"
        "rome italy athens zebra\n",  # answerable but wrong
        encoding="utf-8",
    )
    result = evaluate_analogies(planted_analogies(), questions=questions)
    assert (result.answered, result.skipped) == (3, 1)
    assert result.accuracy == pytest.approx(2 / 3)
    assert result.semantic_accuracy == 1.0 and result.syntactic_accuracy == 0.0
    assert result.sections == {"capital-common-countries": 1.0, "gram1-adjective-to-adverb": 0.0}


def test_analogy_score_equals_gensims(lee_vectors: KeyedVectors) -> None:
    expected, _ = lee_vectors.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=30000)
    result = evaluate_analogies(lee_vectors)
    assert result.accuracy == pytest.approx(expected)
    assert result.answered + result.skipped == 19544  # every question of questions-words.txt
    assert result.answered > 0


def test_similarity_matches_gensim(lee_vectors: KeyedVectors) -> None:
    pearson, spearman, oov = lee_vectors.evaluate_word_pairs(datapath("wordsim353.tsv"))
    result = evaluate_similarity(lee_vectors, "ws353")
    assert result.spearman == pytest.approx(spearman[0]) and result.pearson == pytest.approx(pearson[0])
    assert result.pairs + result.oov_pairs == 353
    assert result.oov_pairs == round(353 * oov / 100)
    simlex = evaluate_similarity(lee_vectors, "simlex")
    assert simlex.pairs + simlex.oov_pairs == 999


def test_evaluate_vectors_metrics(lee_vectors: KeyedVectors) -> None:
    metrics = evaluate_vectors(lee_vectors)
    for key in ("analogy_accuracy", "ws353_spearman", "simlex_spearman", "vocab_size", "analogy_answered"):
        assert key in metrics
    assert metrics["vocab_size"] == len(lee_vectors)
    assert all(isinstance(value, (int, float)) for value in metrics.values())


def test_vocabulary_coverage() -> None:
    kv = planted_analogies()
    sentences = [["athens", "Athens", "ATHENS", "zebra"], ["unicorn", "unicorn", "paris"]]
    result = vocabulary_coverage(kv, sentences)
    assert (result.tokens, result.tokens_found, result.tokens_found_exact) == (7, 5, 2)
    assert (result.types, result.types_found) == (6, 5)
    assert result.top_missing == [("unicorn", 2)]
    assert result.token_coverage == pytest.approx(5 / 7)
    data = result_dict(result)
    assert data["type_coverage"] == pytest.approx(5 / 6) and data["top_missing"] == [("unicorn", 2)]
    assert result.metrics("dev.") == {
        "dev.token_coverage": 0.714286,
        "dev.type_coverage": 0.833333,
        "dev.tokens": 7,
    }


def test_parse_coverage_sets() -> None:
    assert [s.name for s in parse_coverage_sets(["all"])] == [s.name for s in DEFAULT_COVERAGE_SETS]
    assert parse_coverage_sets(["ewt_dev"])[0].column == "tokens"
    custom = parse_coverage_sets(["data/my.txt:train:text"])[0]
    assert (custom.name, custom.source, custom.split, custom.column) == (
        "my.txt_train",
        "data/my.txt",
        "train",
        "text",
    )
    with pytest.raises(ConfigError, match="expected one of sst2_dev"):
        parse_coverage_sets(["nonsense"])


def test_set_coverage_on_a_local_file(tmp_path: Path) -> None:
    dev = tmp_path / "dev.txt"
    dev.write_text("Athens and Paris .\nunicorn paris\n", encoding="utf-8")
    spec = CoverageSet(name="dev", source=str(dev), split="train", column="text", options={})
    result = set_coverage(planted_analogies(), spec, build_tokenizer("regex", lowercase=True))
    assert (result.tokens, result.tokens_found) == (6, 3)
    with pytest.raises(ConfigError, match="has no column 'tokens'"):
        set_coverage(
            planted_analogies(), spec.model_copy(update={"column": "tokens"}), build_tokenizer("regex")
        )
