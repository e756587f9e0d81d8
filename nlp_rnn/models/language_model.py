"""The recurrent language model: next-token distributions over a vocabulary, for perplexity and
for one-to-many generation, optionally conditioned on a label.

Token ids -> embedding (dropout) [joined by the label vector] ->
:class:`~nlp_rnn.models.encoder.RNNEncoder` (LSTM or GRU, stacked, dropout between layers and on
its outputs) -> [a linear projection to ``embedding_dim`` when the embeddings are tied and the sizes
differ] -> the output layer, whose weight is the embedding matrix with ``tie_embeddings`` (Press and
Wolf 2017; Inan et al. 2017) -> logits.

**Conditioning** on one of ``num_labels`` labels (a sentiment, say) makes the model one-to-many
from a single vector: the label's embedding (``label_dim``) gives every layer's initial state
through a linear layer and tanh (``conditioning: init``), joins the token embedding at every step
(``input``), or both (``both``, the default). Unconditioned, the initial state is zeros.

**Two ways to feed it**, the task's two data layouts:

* a continuous stream cut into segments, for truncated back-propagation through time: a batch
  with a ``"segment"`` number starts from the final state of the previous segment, *detached*, so
  gradients stop at the boundary while the state flows on; segment 0 starts from zeros. The
  carried state lives in :attr:`RNNLanguageModel.carried` (a task saves it into checkpoints so a
  resumed run continues the stream exactly).
* whole documents: every row starts from the initial state; padded targets (``pad_id``) are ignored.
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlp_rnn.config import Schema
from nlp_rnn.models.encoder import RNNEncoder, State


class LanguageModelConfig(Schema):
    """The architecture of :class:`RNNLanguageModel` (the ``model:`` section of a language model stage)."""

    cell: Literal["lstm", "gru"] = pydantic.Field("lstm", description="recurrent cell")
    embedding_dim: int = pydantic.Field(256, ge=1, description="token embedding size")
    hidden_size: int = pydantic.Field(512, ge=1, description="units per recurrent layer")
    num_layers: int = pydantic.Field(1, ge=1, description="stacked recurrent layers")
    dropout: float = pydantic.Field(0.2, ge=0, lt=1, description="between layers and on the RNN's outputs")
    embedding_dropout: float = pydantic.Field(0.1, ge=0, lt=1, description="dropout on the token embeddings")
    tie_embeddings: bool = pydantic.Field(
        True, description="the output layer reuses the embedding matrix (after a projection if sizes differ)"
    )
    label_dim: int = pydantic.Field(32, ge=1, description="size of the label vector (conditioned models)")
    conditioning: Literal["init", "input", "both"] = pydantic.Field(
        "both", description="how a label conditions: initial state, joined to every input, or both"
    )


def detach_state(state: State) -> State:
    """The state cut from the graph that made it (gradients stop at a segment boundary)."""
    return tuple(part.detach() for part in state) if isinstance(state, tuple) else state.detach()


class RNNLanguageModel(nn.Module):
    """``forward({"inputs": B x T, "targets": B x T, ["labels": B], ["segment": int]})`` returns
    ``{"logits": B x T x V, "loss"}``: the mean cross-entropy over the targets that are not padding."""

    def __init__(
        self, config: LanguageModelConfig, vocab_size: int, num_labels: int = 0, pad_id: int = 0
    ) -> None:
        super().__init__()
        self.config, self.vocab_size, self.num_labels, self.pad_id = config, vocab_size, num_labels, pad_id
        lstm = config.cell == "lstm"
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim, padding_idx=pad_id)
        self.joins_label = num_labels > 0 and config.conditioning in ("input", "both")
        self.inits_from_label = num_labels > 0 and config.conditioning in ("init", "both")
        self.label_embedding = nn.Embedding(num_labels, config.label_dim) if num_labels else None
        self.state_from_label = (
            nn.Linear(config.label_dim, config.num_layers * config.hidden_size * (2 if lstm else 1))
            if self.inits_from_label
            else None
        )
        self.encoder = RNNEncoder(
            config.embedding_dim + (config.label_dim if self.joins_label else 0),
            config.hidden_size,
            cell=config.cell,
            num_layers=config.num_layers,
            dropout=config.dropout,
            output_dropout=config.dropout,
        )
        projects = config.tie_embeddings and config.hidden_size != config.embedding_dim
        self.projection = nn.Linear(config.hidden_size, config.embedding_dim) if projects else None
        out_size = config.embedding_dim if config.tie_embeddings else config.hidden_size
        self.output = nn.Linear(out_size, vocab_size)
        if config.tie_embeddings:
            self.output.weight = self.embedding.weight
        self.carried: State | None = None  # the stream's state after the last training segment

    @property
    def conditioned(self) -> bool:
        return self.num_labels > 0

    def initial_state(self, batch: int, labels: Tensor | None = None) -> State:
        """``layers x B x H`` zeros, or the labels' initial state (``init``/``both`` conditioning)."""
        config, device = self.config, self.embedding.weight.device
        shape = (config.num_layers, batch, config.hidden_size)
        if self.state_from_label is None:
            h = torch.zeros(shape, device=device)
            return (h, torch.zeros_like(h)) if config.cell == "lstm" else h
        flat = torch.tanh(self.state_from_label(self._label_vectors(labels, batch)))  # B x parts*L*H
        parts = flat.view(batch, -1, config.num_layers, config.hidden_size).permute(
            1, 2, 0, 3
        )  # parts x L x B x H
        return (
            (parts[0].contiguous(), parts[1].contiguous()) if config.cell == "lstm" else parts[0].contiguous()
        )

    def _label_vectors(self, labels: Tensor | None, batch: int) -> Tensor:
        if labels is None or labels.shape != (batch,):
            got = None if labels is None else tuple(labels.shape)
            raise ValueError(f"a conditioned model needs one label per row (B = {batch}), got {got}")
        return self.label_embedding(labels)  # type: ignore[misc]  # B x label_dim

    def logits(self, inputs: Tensor, state: State, labels: Tensor | None = None) -> tuple[Tensor, State]:
        """``(B x T x V logits, final state)`` of ``inputs`` (B x T ids) read from ``state``."""
        x = F.dropout(self.embedding(inputs), self.config.embedding_dropout, self.training)  # B x T x E
        if self.joins_label:
            vectors = self._label_vectors(labels, inputs.size(0))  # B x label_dim
            x = torch.cat([x, vectors.unsqueeze(1).expand(-1, inputs.size(1), -1)], dim=-1)  # B x T x E+l
        encoded = self.encoder(x, initial_state=state)
        hidden = encoded.sequence  # B x T x H
        if self.projection is not None:
            hidden = self.projection(hidden)  # B x T x E
        return self.output(hidden), encoded.states  # B x T x V

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        inputs, labels = batch["inputs"], batch.get("labels")
        if "segment" in batch:  # a stream: continue from the previous segment
            fresh = int(batch["segment"]) == 0 or self.carried is None
            state = self.initial_state(inputs.size(0)) if fresh else _to(self.carried, inputs.device)
        else:
            state = self.initial_state(inputs.size(0), labels)
        logits, state = self.logits(inputs, state, labels)
        if "segment" in batch:
            self.carried = detach_state(state)
        output = {"logits": logits}
        if "targets" in batch:
            output["loss"] = F.cross_entropy(
                logits.flatten(0, 1), batch["targets"].flatten(), ignore_index=self.pad_id
            )
        return output

    def carry_tensors(self) -> dict[str, Tensor]:
        """The carried stream state as named CPU tensors (empty before the first segment)."""
        if self.carried is None:
            return {}
        parts = self.carried if isinstance(self.carried, tuple) else (self.carried,)
        return {name: part.detach().cpu().contiguous() for name, part in zip(("h", "c"), parts, strict=False)}

    def restore_carry(self, tensors: dict[str, Tensor]) -> None:
        """Set the carried state from :meth:`carry_tensors`' output."""
        if not tensors:
            self.carried = None
        elif self.config.cell == "lstm":
            self.carried = (tensors["h"], tensors["c"])
        else:
            self.carried = tensors["h"]


def _to(state: State, device: torch.device) -> State:
    return tuple(part.to(device) for part in state) if isinstance(state, tuple) else state.to(device)
