"""Embedding layers for models: random, initialised from word vectors, or the seeds' one-hot.

Every model builds its input embedding through :func:`build_embedding` from an
:class:`EmbeddingConfig`, so switching from random initialisation to word2vec (or GloVe)
vectors is one setting: ``--set model.embedding.vectors=runs/word2vec_wiki/model``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pydantic
import torch
from gensim.models import KeyedVectors
from torch import nn

from nlp_rnn.config import Schema
from nlp_rnn.embeddings.vectors_io import load_any_vectors, lowercase_index
from nlp_rnn.text.vocab import Vocab

log = logging.getLogger(__name__)


class EmbeddingConfig(Schema):
    """How a model's input embedding is made."""

    dim: int = pydantic.Field(
        100, ge=1, description="size of random embeddings; with vectors, theirs is used"
    )
    vectors: str | None = pydantic.Field(
        None, description="word vectors file (word2vec text/binary, GloVe) or a word2vec run's model folder"
    )
    vectors_format: Literal["auto", "word2vec-text", "word2vec-binary", "glove"] = "auto"
    freeze: bool = pydantic.Field(False, description="keep the embedding fixed during training")
    one_hot: bool = pydantic.Field(
        False, description="the seeds' frozen identity embedding (dim = vocab size)"
    )

    @pydantic.model_validator(mode="after")
    def _one_choice(self) -> EmbeddingConfig:
        if self.one_hot and self.vectors is not None:
            raise ValueError("one_hot and vectors exclude each other")
        return self


@dataclass
class CoverageReport:
    """Which vocabulary entries found a vector (specials are not counted)."""

    vocab_size: int
    found_exact: int
    found_lowercased: int
    missing: int
    specials: int
    tokens: int = 0  # corpus tokens behind the vocabulary (its frequencies), 0 when unknown
    tokens_found: int = 0
    top_missing: list[tuple[str, int]] = field(default_factory=list)  # most frequent missing words
    init_std: float = 0.0  # scale of the random rows

    @property
    def found(self) -> int:
        return self.found_exact + self.found_lowercased

    @property
    def type_coverage(self) -> float:
        words = self.found + self.missing
        return self.found / words if words else 0.0

    @property
    def token_coverage(self) -> float | None:
        return self.tokens_found / self.tokens if self.tokens else None

    def summary(self) -> str:
        """One readable paragraph for logs and the CLI."""
        words = self.found + self.missing
        text = (
            f"vectors found for {self.found}/{words} words ({self.type_coverage:.1%}): "
            f"{self.found_exact} exact, {self.found_lowercased} lowercased; {self.missing} missing"
        )
        if self.token_coverage is not None:
            text += f"; {self.token_coverage:.1%} of training tokens covered"
        if self.top_missing:
            shown = ", ".join(f"{word} ({count})" for word, count in self.top_missing[:10])
            text += f"; most frequent missing: {shown}"
        return text


def embedding_from_vectors(
    vocab: Vocab,
    vectors: KeyedVectors,
    *,
    freeze: bool = False,
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
    top_missing: int = 20,
) -> tuple[nn.Embedding, CoverageReport]:
    """An ``nn.Embedding`` whose row ``i`` is the vector of ``vocab.itos[i]``.

    Words are looked up as they are, then lowercased (against the vectors' lowercased keys, so
    ``Paris`` finds ``paris`` and the other way round). Words without a vector, and the special
    tokens, get random rows drawn from N(0, s) where s is the standard deviation of the
    vectors' values, so they start at the same scale as the rest. The ``<pad>`` row is zero
    and gets no gradient. ``counts`` (default: the vocabulary's own ``freqs``) ranks the
    missing words in the report.
    """
    counts = counts if counts is not None else vocab.freqs
    table = np.asarray(vectors.vectors, dtype=np.float32)  # n_vectors x dim
    std = float(table.std()) or 1.0
    rng = np.random.default_rng(seed)
    weight = rng.normal(0.0, std, size=(len(vocab), vectors.vector_size)).astype(np.float32)  # vocab x dim
    lowercased = lowercase_index(vectors)
    specials = set(vocab.specials)
    exact = lower = tokens = tokens_found = 0
    missing: list[tuple[str, int]] = []
    for index, token in enumerate(vocab.itos):
        if token in specials:
            continue
        row = vectors.key_to_index.get(token)
        if row is not None:
            exact += 1
        else:
            row = lowercased.get(token.lower())
            lower += row is not None
        count = counts.get(token, 0)
        tokens += count
        if row is None:
            missing.append((token, count))
            continue
        tokens_found += count
        weight[index] = table[row]
    if vocab.pad_id is not None:
        weight[vocab.pad_id] = 0.0
    missing.sort(key=lambda item: -item[1])  # stable: equal counts keep vocabulary order
    report = CoverageReport(
        vocab_size=len(vocab),
        found_exact=exact,
        found_lowercased=lower,
        missing=len(missing),
        specials=len(specials & set(vocab.itos)),
        tokens=tokens,
        tokens_found=tokens_found,
        top_missing=missing[:top_missing],
        init_std=std,
    )
    embedding = nn.Embedding.from_pretrained(
        torch.from_numpy(weight), freeze=freeze, padding_idx=vocab.pad_id
    )
    return embedding, report


def one_hot_embedding(vocab_size: int, padding_idx: int | None = 0) -> nn.Embedding:
    """The seeds' frozen one-hot embedding: row ``i`` is the unit vector ``e_i``; the padding row is
    all zeros, so padded steps feed nothing into the network (Keras' ``mask_zero`` convention)."""
    weight = torch.eye(vocab_size)  # vocab x vocab
    if padding_idx is not None:
        weight[padding_idx] = 0.0
    return nn.Embedding.from_pretrained(weight, freeze=True, padding_idx=padding_idx)


def random_embedding(
    vocab_size: int, dim: int, *, padding_idx: int | None = 0, seed: int = 0
) -> nn.Embedding:
    """PyTorch's default N(0, 1) initialisation, from a seeded generator; padding row zero."""
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(vocab_size, dim, generator=generator)  # vocab x dim
    if padding_idx is not None:
        weight[padding_idx] = 0.0
    return nn.Embedding.from_pretrained(weight, freeze=False, padding_idx=padding_idx)


def build_embedding(
    config: EmbeddingConfig, vocab: Vocab, *, seed: int = 0
) -> tuple[nn.Embedding, CoverageReport | None]:
    """The embedding a config asks for, and a coverage report when it was built from vectors."""
    if config.one_hot:
        return one_hot_embedding(len(vocab), vocab.pad_id), None
    if config.vectors is None:
        embedding = random_embedding(len(vocab), config.dim, padding_idx=vocab.pad_id, seed=seed)
        embedding.weight.requires_grad_(not config.freeze)
        return embedding, None
    vectors = load_any_vectors(config.vectors, config.vectors_format)
    if vectors.vector_size != config.dim:
        log.info(
            "embedding: using the vectors' dimension %d instead of dim=%d", vectors.vector_size, config.dim
        )
    embedding, report = embedding_from_vectors(vocab, vectors, freeze=config.freeze, seed=seed)
    log.info("embedding from %s: %s", config.vectors, report.summary())
    return embedding, report


__all__ = [
    "CoverageReport",
    "EmbeddingConfig",
    "build_embedding",
    "embedding_from_vectors",
    "one_hot_embedding",
    "random_embedding",
]
