"""A many-to-one text classifier: embedding -> RNN encoder -> pooling -> dropout -> linear.

The same module serves binary and multi-class tasks (a softmax over ``num_classes`` outputs,
trained with cross-entropy). How the embedding is initialised (random, word2vec, frozen one-hot)
is decided outside, by :func:`nlp_rnn.embeddings.embedding_layer.build_embedding`; the classifier
takes the finished ``nn.Embedding``, so a saved model can be rebuilt from sizes alone
(:meth:`RNNClassifier.from_sizes`) and its weights loaded over it.

Pooling turns the encoder's ``B x T x H`` outputs into one ``B x H`` vector per text:

* ``last``: the final states (forward direction at the last token, backward at the first);
* ``max``: the element-wise maximum over real time steps (Conneau et al. 2017 found it the best
  pooling for BiLSTM sentence encoders; it is the default here);
* ``mean``: the average over real time steps;
* ``attention``: a learned weighted average, ``softmax(v . tanh(W h_t))`` over real steps
  (Yang et al. 2016's word attention, without the hierarchy).

Padding never takes part: ``max`` and ``attention`` mask it to minus infinity, ``mean`` divides
by the true lengths.

Adversarial training (Miyato et al. 2017, "Adversarial training methods for semi-supervised text
classification"), optional: with ``adversarial_epsilon`` > 0 each training batch also moves every
text's word vectors a small step in the direction that raises its loss most
(:func:`nlp_rnn.models.adversarial.adversarial_perturbation`: one L2-normalised direction per
text, ``adversarial_epsilon`` times the text's root-mean-square word-vector norm long), and the
loss on these perturbed texts is added with weight ``adversarial_weight``. It costs about two
extra passes through the encoder per batch and changes nothing at inference.
"""

from __future__ import annotations

from typing import Literal

import pydantic
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlp_rnn.config import Schema
from nlp_rnn.models import bilstm_inference
from nlp_rnn.models.adversarial import adversarial_loss
from nlp_rnn.models.encoder import RNNEncoder, real_steps_mask
from nlp_rnn.models.partly_frozen_embedding import PartlyFrozenEmbedding

POOLINGS = ("last", "max", "mean", "attention")


class ClassifierConfig(Schema):
    """The architecture of :class:`RNNClassifier` (the ``model:`` section of a training stage)."""

    cell: Literal["rnn", "lstm", "gru"] = pydantic.Field("lstm", description="recurrent cell")
    hidden_size: int = pydantic.Field(150, ge=1, description="units per direction and layer")
    num_layers: int = pydantic.Field(1, ge=1, description="stacked recurrent layers")
    bidirectional: bool = pydantic.Field(True, description="read the text in both directions")
    pooling: Literal["last", "max", "mean", "attention"] = pydantic.Field(
        "max", description="how the encoder's outputs become one vector"
    )
    attention_size: int = pydantic.Field(100, ge=1, description="attention pooling: size of its hidden layer")
    embedding_dropout: float = pydantic.Field(0.3, ge=0, lt=1, description="dropout on the word vectors")
    dropout: float = pydantic.Field(0.0, ge=0, lt=1, description="dropout between recurrent layers")
    output_dropout: float = pydantic.Field(0.5, ge=0, lt=1, description="dropout on the pooled vector")
    length_mode: Literal["auto", "packed", "masked"] = pydantic.Field(
        "auto", description="how the encoder skips padding (see nlp_rnn.models.encoder)"
    )
    adversarial_epsilon: float = pydantic.Field(
        0.0, ge=0, description="adversarial step, in the text's RMS word-vector norms (0: off)"
    )
    adversarial_weight: float = pydantic.Field(
        1.0, ge=0, description="adversarial training: the weight of the perturbed texts' loss"
    )


class Pooling(nn.Module):
    """Turns encoder outputs ``B x T x H`` (zeros at padding) into ``B x H``."""

    def __init__(self, kind: str, size: int, attention_size: int = 100) -> None:
        super().__init__()
        if kind not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {kind!r}")
        self.kind = kind
        if kind == "attention":
            self.attention_hidden = nn.Linear(size, attention_size)
            self.attention_score = nn.Linear(attention_size, 1, bias=False)

    def forward(self, sequence: Tensor, lengths: Tensor, last: Tensor) -> Tensor:
        """``sequence``: B x T x H; ``lengths``: B (on any device); ``last``: B x H final states."""
        if self.kind == "last":
            return last
        mask = real_steps_mask(lengths.to(sequence.device), sequence.size(1))  # B x T
        if self.kind == "max":
            # Padding is zero in `sequence`; a zero could beat an all-negative feature, so mask it.
            return sequence.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)  # B x H
        if self.kind == "mean":
            counts = mask.sum(dim=1, keepdim=True).to(sequence.dtype)  # B x 1
            return sequence.sum(dim=1) / counts  # B x H (padding adds zeros)
        weights = self.attention_weights(sequence, mask)  # B x T
        return torch.bmm(weights.unsqueeze(1), sequence).squeeze(1)  # B x H

    def attention_weights(self, sequence: Tensor, mask: Tensor) -> Tensor:
        """Attention pooling's weights, ``B x T``, summing to one over each row's real steps."""
        scores = self.attention_score(torch.tanh(self.attention_hidden(sequence))).squeeze(-1)  # B x T
        return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)  # B x T


class RNNClassifier(nn.Module):
    """Text classifier over right-padded token ids.

    ``forward(batch)`` takes ``ids`` (B x T, padding id 0 at the end), ``lengths`` (B) and,
    optionally, ``labels`` (B class indices); it returns ``logits`` (B x C) and, with labels,
    ``loss`` (mean cross-entropy).
    """

    def __init__(
        self, embedding: nn.Embedding | PartlyFrozenEmbedding, num_classes: int, config: ClassifierConfig
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
        self.config = config
        self.num_classes = num_classes
        self.embedding = embedding
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.encoder = RNNEncoder(
            embedding.embedding_dim,
            config.hidden_size,
            cell=config.cell,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout,
            length_mode=config.length_mode,
        )
        self.pooling = Pooling(config.pooling, self.encoder.output_size, config.attention_size)
        self.output_dropout = nn.Dropout(config.output_dropout)
        self.output = nn.Linear(self.encoder.output_size, num_classes)
        # Eval-mode batches through the per-token path (bilstm_inference): True, False, or None for
        # bf16 products only, which need it. In fp32 the encoder's own kernels are as fast on large
        # batches and 1.3-1.5x faster on small ones on 2 AVX2 cores, and a GPU has cuDNN
        # (scripts/bench_classifier_paths.py).
        self.per_token_inference: bool | None = None

    @classmethod
    def from_sizes(
        cls,
        vocab_size: int,
        embedding_dim: int,
        num_classes: int,
        config: ClassifierConfig,
        pad_id: int = 0,
        frozen_rows: int = 0,
    ) -> RNNClassifier:
        """An untrained classifier of the right shapes, to load saved weights into (``frozen_rows``:
        the last rows of the embedding are a fixed buffer, :class:`PartlyFrozenEmbedding`)."""
        if frozen_rows:
            embedding: nn.Module = PartlyFrozenEmbedding.empty(
                vocab_size, vocab_size - frozen_rows, embedding_dim, pad_id
            )
        else:
            embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        return cls(embedding, num_classes, config)  # type: ignore[arg-type]

    @property
    def frozen_embedding_rows(self) -> int:
        """How many of the embedding's last rows are fixed (0 for a plain embedding)."""
        if isinstance(self.embedding, PartlyFrozenEmbedding):
            return self.embedding.num_embeddings - self.embedding.trainable_rows
        return 0

    def encode(self, ids: Tensor, lengths: Tensor, product_dtype: torch.dtype = torch.float32) -> Tensor:
        """The pooled text vectors, B x H*dirs.

        On the per-token path (eval mode, a bidirectional LSTM, see :attr:`per_token_inference`)
        the encoder starts from the first layer's input products computed once per distinct token
        id of the batch (:mod:`nlp_rnn.models.bilstm_inference`); the result is the same as the
        ordinary encoder's. ``product_dtype=torch.bfloat16`` runs that path's recurrent and upper
        layers' matrix products in bf16 (the other paths ignore it).
        """
        wanted = self.per_token_inference
        if wanted is None:
            wanted = product_dtype != torch.float32
        if wanted and not self.training and bilstm_inference.supports(self.encoder):
            unique, inverse = torch.unique(ids, return_inverse=True)  # U, B x T
            weight, bias = bilstm_inference.first_layer_weights(self.encoder)  # 8H x D, 8H
            per_token = torch.addmm(bias, self.embedding(unique), weight.t())  # U x 8H
            sequence = bilstm_inference.encode_forms(
                self.encoder, per_token, inverse, lengths, product_dtype
            )  # B x T x 2H
            return self.pooling(sequence, lengths, _last_states(sequence, lengths))
        return self.encode_vectors(self.embedding(ids), lengths)

    def encode_vectors(self, embedded: Tensor, lengths: Tensor) -> Tensor:
        """The pooled text vectors, B x H*dirs, from word vectors B x T x D (dropout applied here)."""
        encoded = self.encoder(self.embedding_dropout(embedded), lengths, final_states=False)
        return self.pooling(encoded.sequence, lengths, encoded.last)  # B x H*dirs

    def logits(self, ids: Tensor, lengths: Tensor, product_dtype: torch.dtype = torch.float32) -> Tensor:
        """Class scores, B x C, for B x T token ids (``product_dtype``: see :meth:`encode`)."""
        pooled = self.output_dropout(self.encode(ids, lengths, product_dtype))  # B x H*dirs
        return self.output(pooled)  # B x C

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        target = batch["targets"] if "targets" in batch else batch.get("labels")  # B x C or B
        if target is not None and self.training and self.config.adversarial_epsilon > 0:
            return self._adversarial_forward(batch["ids"], batch["lengths"], target)
        logits = self.logits(batch["ids"], batch["lengths"])  # B x C
        output = {"logits": logits}
        if target is not None:  # class indices, or distributions (a teacher's)
            output["loss"] = F.cross_entropy(logits, target)
        return output

    def _adversarial_forward(self, ids: Tensor, lengths: Tensor, target: Tensor) -> dict[str, Tensor]:
        """The clean loss plus ``adversarial_weight`` times the loss on adversarially moved vectors."""

        def scored(vectors: Tensor) -> tuple[Tensor, Tensor]:
            logits = self._scores(vectors, lengths)  # B x C
            return logits, F.cross_entropy(logits, target)

        config = self.config
        logits, loss = adversarial_loss(
            self.embedding(ids), lengths, config.adversarial_epsilon, config.adversarial_weight, scored
        )
        return {"logits": logits, "loss": loss}

    def _scores(self, embedded: Tensor, lengths: Tensor) -> Tensor:
        """Class scores, B x C, from word vectors B x T x D (training: both dropouts applied)."""
        return self.output(self.output_dropout(self.encode_vectors(embedded, lengths)))


def _last_states(sequence: Tensor, lengths: Tensor) -> Tensor:
    """A bidirectional layer's final states from its outputs: forward at the last real step,
    backward at the first (B x T x 2H -> B x 2H)."""
    hidden = sequence.size(-1) // 2
    rows = torch.arange(sequence.size(0), device=sequence.device)
    forward = sequence[rows, lengths.to(sequence.device) - 1, :hidden]  # B x H
    return torch.cat([forward, sequence[:, 0, hidden:]], dim=-1)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (those with gradients only, if asked)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
