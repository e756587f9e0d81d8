"""Start a classifier from another trained classifier (supervised transfer, e.g. IMDB -> SST-2).

The encoder and pooling weights are copied whole (the architectures must agree); every word of
the new vocabulary that the source model knows gets the source's embedding row (tuned on the
source task), the others keep their initialisation; the output layer is copied when both models
have the same labels in the same order. Training then fine-tunes everything on the new data
(Mou et al. 2016: transfer between semantically close tasks such as IMDB and movie-review
sentences helps).

A classifier can also start from a bidirectional language model trained on unlabelled text
(:func:`transfer_from_language_model`; Dai and Le 2015): its encoder and the embedding rows of
shared words are copied the same way; pooling and the output layer keep their initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nlp_rnn.errors import ConfigError
from nlp_rnn.models.bidirectional_lm import BidirectionalLM
from nlp_rnn.models.classifier import RNNClassifier
from nlp_rnn.models.partly_frozen_embedding import PartlyFrozenEmbedding
from nlp_rnn.text.vocab import Vocab


@dataclass
class TransferReport:
    """What :func:`transfer_weights` or :func:`transfer_from_language_model` copied."""

    words_copied: int
    output_copied: bool
    from_language_model: bool = False

    def summary(self) -> str:
        if self.from_language_model:
            return f"encoder and {self.words_copied} embedding rows copied from a language model"
        output = "copied" if self.output_copied else "not copied (other labels)"
        return f"{self.words_copied} embedding rows copied; output layer {output}"


def transfer_weights(
    target: RNNClassifier,
    vocab: Vocab,
    labels: Vocab,
    source: RNNClassifier,
    source_vocab: Vocab,
    source_labels: Vocab,
    where: str = "init_from",
) -> TransferReport:
    """Copy ``source``'s weights into ``target`` (in place) as the module docstring says."""
    shapes = [_shape(model) for model in (source, target)]
    if shapes[0] != shapes[1]:
        raise ConfigError(
            f"{where}: the source classifier's shape differs from this one's (source: {shapes[0]}; "
            f"this one: {shapes[1]})"
        )
    with torch.no_grad():
        target.encoder.load_state_dict(source.encoder.state_dict())
        target.pooling.load_state_dict(source.pooling.state_dict())
        words = _copy_rows(target.embedding, vocab, source.embedding, source_vocab)
        output_copied = list(labels.itos) == list(source_labels.itos)
        if output_copied:
            target.output.load_state_dict(source.output.state_dict())
    return TransferReport(words_copied=words, output_copied=output_copied)


def transfer_from_language_model(
    target: RNNClassifier,
    vocab: Vocab,
    source: BidirectionalLM,
    source_vocab: Vocab,
    where: str = "init_from",
) -> TransferReport:
    """Copy a bidirectional language model's encoder and shared words' embedding rows into
    ``target`` (in place); its encoder must be one bidirectional layer of the same cell and size."""
    settings = target.config
    expected = {
        "embedding_dim": source.embedding.embedding_dim,
        "cell": source.config.cell,
        "hidden_size": source.config.hidden_size,
        "num_layers": 1,
        "bidirectional": True,
    }
    actual = {
        "embedding_dim": target.embedding.embedding_dim,
        **{key: getattr(settings, key) for key in ("cell", "hidden_size", "num_layers", "bidirectional")},
    }
    if expected != actual:
        raise ConfigError(
            f"{where}: the language model's encoder differs from this classifier's (language model: "
            f"{expected}; this one: {actual})"
        )
    with torch.no_grad():
        target.encoder.load_state_dict(source.encoder.state_dict())
        words = _copy_rows(target.embedding, vocab, source.embedding, source_vocab)
    return TransferReport(words_copied=words, output_copied=False, from_language_model=True)


SHAPE_KEYS = ("cell", "hidden_size", "num_layers", "bidirectional", "pooling", "attention_size")


def _shape(model: RNNClassifier) -> dict[str, object]:
    """The settings that decide the weights' shapes (dropout rates may differ)."""
    settings = model.config.model_dump()
    return {"embedding_dim": model.embedding.embedding_dim, **{key: settings[key] for key in SHAPE_KEYS}}


def _copy_rows(embedding: nn.Module, vocab: Vocab, source: nn.Module, source_vocab: Vocab) -> int:
    """Give every word of ``vocab`` that ``source_vocab`` knows its ``source`` row; how many."""
    pairs = [(i, source_vocab.stoi[w]) for i, w in enumerate(vocab.itos) if w in source_vocab.stoi]
    if pairs:
        rows, source_rows = (torch.tensor(column) for column in zip(*pairs, strict=True))
        _set_rows(embedding, rows, source(source_rows))
    return len(pairs)


def _set_rows(embedding: nn.Module, rows: Tensor, values: Tensor) -> None:
    """Write ``values`` (N x D) into the embedding rows ``rows`` (N), trainable or fixed."""
    if isinstance(embedding, PartlyFrozenEmbedding):
        trainable = rows < embedding.trainable_rows
        embedding.weight[rows[trainable]] = values[trainable]
        embedding.frozen[rows[~trainable] - embedding.trainable_rows] = values[~trainable]
    else:
        embedding.weight[rows] = values  # type: ignore[index]
