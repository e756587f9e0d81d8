"""A bidirectional language model that pretrains a classifier's encoder on unlabelled text.

One bidirectional recurrent layer reads each text; its forward direction, after reading tokens
``0..t``, predicts token ``t+1``, and its backward direction, after reading tokens ``T-1..t``,
predicts token ``t-1`` (Peters et al. 2018's biLM, with one layer so that neither direction ever
sees the word it predicts). Both directions share one output layer, an adaptive softmax (Grave et
al. 2017) over the ``output_words`` most frequent words (rarer ones are predicted as ``<unk>``).

The encoder is exactly :class:`~nlp_rnn.models.classifier.RNNClassifier`'s (an
:class:`~nlp_rnn.models.encoder.RNNEncoder` of the same settings), so a classifier can start
from its weights and its tuned word vectors (``init_from``; Dai and Le 2015 pretrained a
classifier's LSTM as a language model on in-domain unlabelled reviews).
"""

from __future__ import annotations

from typing import Literal

import pydantic
import torch
from torch import Tensor, nn

from nlp_rnn.config import Schema
from nlp_rnn.models.encoder import RNNEncoder, real_steps_mask


class BidirectionalLMConfig(Schema):
    """The architecture of :class:`BidirectionalLM` (the ``model:`` section of a ``train_bilm`` stage)."""

    cell: Literal["rnn", "lstm", "gru"] = pydantic.Field("lstm", description="recurrent cell")
    hidden_size: int = pydantic.Field(150, ge=1, description="units per direction")
    embedding_dropout: float = pydantic.Field(0.1, ge=0, lt=1, description="dropout on the word vectors")
    output_dropout: float = pydantic.Field(0.1, ge=0, lt=1, description="dropout on the states that predict")
    output_words: int = pydantic.Field(
        30_000, ge=3, description="the most frequent vocabulary ids predicted (specials included)"
    )
    cutoffs: list[int] = pydantic.Field(
        default_factory=lambda: [2000, 10000],
        description="adaptive softmax: the frequency bands' boundaries (those below output_words are kept)",
    )
    div_value: float = pydantic.Field(4.0, ge=1, description="adaptive softmax: each band's size reduction")
    length_mode: Literal["auto", "packed", "masked"] = pydantic.Field(
        "auto", description="how the encoder skips padding (see nlp_rnn.models.encoder)"
    )

    @pydantic.field_validator("cutoffs")
    @classmethod
    def _increasing(cls, cutoffs: list[int]) -> list[int]:
        if any(c <= 0 for c in cutoffs) or cutoffs != sorted(set(cutoffs)):
            raise ValueError(f"cutoffs must be positive and strictly increasing, got {cutoffs}")
        return cutoffs


class BidirectionalLM(nn.Module):
    """Next-word and previous-word prediction over right-padded token ids.

    ``forward(batch)`` takes ``ids`` (B x T, padding id 0 at the end) and ``lengths`` (B); it
    returns ``loss`` (the mean negative log-likelihood over both directions' predictions),
    ``nll`` (2: the summed NLL of the forward and of the backward direction) and ``tokens`` (the
    number of predictions per direction: ``sum(lengths - 1)``).
    """

    def __init__(self, embedding: nn.Module, vocab_size: int, unk_id: int, config: BidirectionalLMConfig):
        super().__init__()
        if not 0 <= unk_id < vocab_size:
            raise ValueError(f"unk_id {unk_id} is outside the vocabulary (size {vocab_size})")
        self.config = config
        self.unk_id = unk_id
        self.classes = min(config.output_words, vocab_size)  # ids at or above it are predicted as <unk>
        if unk_id >= self.classes:
            raise ValueError(f"unk_id {unk_id} must be among the {self.classes} predicted ids")
        self.embedding = embedding
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.encoder = RNNEncoder(
            embedding.embedding_dim,  # type: ignore[arg-type]
            config.hidden_size,
            cell=config.cell,
            bidirectional=True,
            length_mode=config.length_mode,
        )
        self.output_dropout = nn.Dropout(config.output_dropout)
        cutoffs = [c for c in config.cutoffs if c < self.classes - 1] or [max(1, self.classes // 2)]
        if config.hidden_size // config.div_value ** len(cutoffs) < 1:
            raise ValueError(
                f"adaptive softmax: the last of {len(cutoffs)} bands would get hidden_size "
                f"{config.hidden_size} // {config.div_value}^{len(cutoffs)} = 0 features; "
                "use fewer cutoffs or a smaller div_value"
            )
        self.softmax = nn.AdaptiveLogSoftmaxWithLoss(
            config.hidden_size, self.classes, cutoffs, div_value=config.div_value
        )

    @classmethod
    def from_sizes(
        cls, vocab_size: int, embedding_dim: int, unk_id: int, config: BidirectionalLMConfig, pad_id: int = 0
    ) -> BidirectionalLM:
        """An untrained model of the right shapes, to load saved weights into."""
        return cls(nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id), vocab_size, unk_id, config)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        ids, lengths = batch["ids"], batch["lengths"]  # B x T, B
        hidden = self.config.hidden_size
        embedded = self.embedding_dropout(self.embedding(ids))  # B x T x D
        sequence = self.encoder(embedded, lengths, final_states=False).sequence  # B x T x 2H
        sequence = self.output_dropout(sequence)
        # Pairs of neighbours (t, t+1) both inside the text: B x (T-1).
        pairs = real_steps_mask(lengths.to(ids.device) - 1, ids.size(1) - 1)
        targets = ids.masked_fill(ids >= self.classes, self.unk_id)  # B x T
        states = torch.cat(
            [
                sequence[:, :-1, :hidden][pairs],  # N x H: forward, having read 0..t, predicts t+1
                sequence[:, 1:, hidden:][pairs],  # N x H: backward, having read T-1..t+1, predicts t
            ]
        )  # 2N x H
        words = torch.cat([targets[:, 1:][pairs], targets[:, :-1][pairs]])  # 2N
        log_probs = self.softmax(states, words).output  # 2N
        tokens = int(pairs.sum())
        nll = -torch.stack([log_probs[:tokens].sum(), log_probs[tokens:].sum()])  # 2
        return {
            "loss": nll.sum() / max(2 * tokens, 1),
            "nll": nll.detach(),
            "tokens": torch.tensor(tokens),
        }
