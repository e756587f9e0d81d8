"""Tests for nlp_rnn.embeddings.embedding_layer: vectors -> nn.Embedding, one-hot, config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydantic
import pytest
import torch
from gensim.models import KeyedVectors

from nlp_rnn.embeddings.embedding_layer import (
    EmbeddingConfig,
    build_embedding,
    embedding_from_vectors,
    one_hot_embedding,
    random_embedding,
)
from nlp_rnn.embeddings.vectors_io import save_model_vectors, save_vectors
from nlp_rnn.text.vocab import Vocab


@pytest.fixture
def vectors() -> KeyedVectors:
    words = ["the", "paris", "London", "cat", "dog"]
    kv = KeyedVectors(vector_size=3, count=0)
    table = np.arange(15, dtype=np.float32).reshape(5, 3) / 10 + 1  # distinct, non-zero rows
    kv.add_vectors(words, table)
    return kv


@pytest.fixture
def vocab() -> Vocab:
    counts = {"the": 50, "Paris": 9, "london": 8, "cat": 7, "zebra": 30, "quokka": 3}
    return Vocab.build(counts)


def row(kv: KeyedVectors, word: str) -> torch.Tensor:
    return torch.from_numpy(kv[word].copy())


def test_found_words_are_copied_exact_then_lowercased(vocab: Vocab, vectors: KeyedVectors) -> None:
    embedding, report = embedding_from_vectors(vocab, vectors)
    weight = embedding.weight.detach()
    assert weight.shape == (len(vocab), 3)
    assert torch.equal(weight[vocab.stoi["the"]], row(vectors, "the"))
    assert torch.equal(weight[vocab.stoi["cat"]], row(vectors, "cat"))
    assert torch.equal(weight[vocab.stoi["Paris"]], row(vectors, "paris"))  # vocab cased, vectors lower
    assert torch.equal(weight[vocab.stoi["london"]], row(vectors, "London"))  # and the other way round
    assert (report.found_exact, report.found_lowercased, report.missing, report.specials) == (2, 2, 2, 4)
    assert report.top_missing == [("zebra", 30), ("quokka", 3)]
    assert report.tokens == 107 and report.tokens_found == 74
    assert report.type_coverage == pytest.approx(4 / 6)
    assert "4/6 words" in report.summary() and "zebra (30)" in report.summary()


def test_padding_row_is_zero_and_gets_no_gradient(vocab: Vocab, vectors: KeyedVectors) -> None:
    embedding, _ = embedding_from_vectors(vocab, vectors, freeze=False)
    assert embedding.padding_idx == vocab.pad_id == 0
    assert torch.count_nonzero(embedding.weight[0]) == 0
    assert embedding.weight.requires_grad
    embedding(torch.tensor([[0, 4, 5]])).sum().backward()
    assert torch.count_nonzero(embedding.weight.grad[0]) == 0
    assert torch.count_nonzero(embedding.weight.grad[4]) == 3


def test_missing_rows_are_random_at_the_vectors_scale(vectors: KeyedVectors) -> None:
    vocab = Vocab.build({f"unknown{i}": 1 for i in range(4000)})
    embedding, report = embedding_from_vectors(vocab, vectors, seed=3)
    random_rows = embedding.weight.detach()[1:]
    assert report.missing == 4000
    assert report.init_std == pytest.approx(float(vectors.vectors.std()))
    assert float(random_rows.std()) == pytest.approx(report.init_std, rel=0.05)
    assert abs(float(random_rows.mean())) < 0.05
    again, _ = embedding_from_vectors(vocab, vectors, seed=3)
    assert torch.equal(again.weight, embedding.weight)
    other, _ = embedding_from_vectors(vocab, vectors, seed=4)
    assert not torch.equal(other.weight, embedding.weight)


def test_freeze(vocab: Vocab, vectors: KeyedVectors) -> None:
    embedding, _ = embedding_from_vectors(vocab, vectors, freeze=True)
    assert not embedding.weight.requires_grad


def test_explicit_counts_rank_missing_words(vocab: Vocab, vectors: KeyedVectors) -> None:
    _, report = embedding_from_vectors(vocab, vectors, counts={"quokka": 99}, top_missing=1)
    assert report.top_missing == [("quokka", 99)]


@pytest.mark.parametrize("padding_idx", [0, None])
def test_one_hot(padding_idx: int | None) -> None:
    embedding = one_hot_embedding(5, padding_idx=padding_idx)
    assert not embedding.weight.requires_grad
    out = embedding(torch.tensor([[0, 1, 4]]))  # batch x time x vocab
    assert out.shape == (1, 3, 5)
    expected_first = torch.zeros(5) if padding_idx == 0 else torch.eye(5)[0]
    assert torch.equal(out[0, 0], expected_first)
    assert torch.equal(out[0, 1], torch.eye(5)[1])
    assert torch.equal(out[0, 2], torch.eye(5)[4])


def test_random_embedding_is_seeded_with_zero_padding() -> None:
    first = random_embedding(10, 4, seed=1)
    assert torch.equal(first.weight, random_embedding(10, 4, seed=1).weight)
    assert torch.count_nonzero(first.weight[0]) == 0


def test_build_embedding_from_config(tmp_path: Path, vocab: Vocab, vectors: KeyedVectors) -> None:
    embedding, report = build_embedding(EmbeddingConfig(dim=7), vocab, seed=0)
    assert embedding.weight.shape == (len(vocab), 7) and report is None
    embedding, report = build_embedding(EmbeddingConfig(one_hot=True), vocab)
    assert embedding.weight.shape == (len(vocab), len(vocab)) and report is None

    save_vectors(vectors, tmp_path / "v.bin", "word2vec-binary")
    config = EmbeddingConfig(dim=100, vectors=str(tmp_path / "v.bin"), freeze=True)
    embedding, report = build_embedding(config, vocab)
    assert embedding.weight.shape == (len(vocab), 3)  # the vectors' dimension wins
    assert not embedding.weight.requires_grad and report is not None and report.found == 4

    save_model_vectors(vectors, tmp_path / "model", {})
    embedding, report = build_embedding(EmbeddingConfig(vectors=str(tmp_path / "model")), vocab)
    assert torch.equal(embedding.weight[vocab.stoi["cat"]].detach(), row(vectors, "cat"))


def test_config_validation() -> None:
    with pytest.raises(pydantic.ValidationError, match="exclude each other"):
        EmbeddingConfig(one_hot=True, vectors="v.txt")
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        EmbeddingConfig(vector="v.txt")
    with pytest.raises(pydantic.ValidationError):
        EmbeddingConfig(vectors_format="gensim")  # pickles are not accepted from users
