"""Start a classifier from another trained classifier (supervised transfer, e.g. IMDB -> SST-2).

The encoder and pooling weights are copied whole (the architectures must agree); every word of
the new vocabulary that the source model knows gets the source's embedding row (tuned on the
source task), the others keep their initialisation; the output layer is copied when both models
have the same labels in the same order. Training then fine-tunes everything on the new data
(Mou et al. 2016: transfer between semantically close tasks such as IMDB and movie-review
sentences helps).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nlp_rnn.errors import ConfigError
from nlp_rnn.models.classifier import RNNClassifier
from nlp_rnn.models.partly_frozen_embedding import PartlyFrozenEmbedding
from nlp_rnn.text.vocab import Vocab


@dataclass
class TransferReport:
    """What :func:`transfer_weights` copied."""

    words_copied: int
    output_copied: bool

    def summary(self) -> str:
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
        pairs = [(i, source_vocab.stoi[w]) for i, w in enumerate(vocab.itos) if w in source_vocab.stoi]
        if pairs:
            rows, source_rows = (torch.tensor(column) for column in zip(*pairs, strict=True))
            _set_rows(target.embedding, rows, source.embedding(source_rows))
        output_copied = list(labels.itos) == list(source_labels.itos)
        if output_copied:
            target.output.load_state_dict(source.output.state_dict())
    return TransferReport(words_copied=len(pairs), output_copied=output_copied)


SHAPE_KEYS = ("cell", "hidden_size", "num_layers", "bidirectional", "pooling", "attention_size")


def _shape(model: RNNClassifier) -> dict[str, object]:
    """The settings that decide the weights' shapes (dropout rates may differ)."""
    settings = model.config.model_dump()
    return {"embedding_dim": model.embedding.embedding_dim, **{key: settings[key] for key in SHAPE_KEYS}}


def _set_rows(embedding: nn.Module, rows: Tensor, values: Tensor) -> None:
    """Write ``values`` (N x D) into the embedding rows ``rows`` (N), trainable or fixed."""
    if isinstance(embedding, PartlyFrozenEmbedding):
        trainable = rows < embedding.trainable_rows
        embedding.weight[rows[trainable]] = values[trainable]
        embedding.frozen[rows[~trainable] - embedding.trainable_rows] = values[~trainable]
    else:
        embedding.weight[rows] = values  # type: ignore[index]
