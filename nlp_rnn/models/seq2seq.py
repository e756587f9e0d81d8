"""An attention encoder-decoder (Bahdanau et al. 2015; Luong et al. 2015) for translation and summarization.

Source tokens -> embedding -> :class:`~nlp_rnn.models.encoder.RNNEncoder` (GRU or LSTM, stacked,
optionally bidirectional) -> *memory* (``B x S x M``, ``M`` = encoder hidden x directions). The
decoder is one fused ``nn.GRU``/``nn.LSTM`` of ``decoder_layers`` layers. Each target step ``t``:

* Luong (``dot``, ``general``, ``concat``): ``h_t = RNN([y_{t-1}; a_{t-1}?], s_{t-1})``, attention
  with query ``h_t`` gives the context ``c_t``;
* Bahdanau (``bahdanau``): attention with the query ``s_{t-1}`` (the top layer's previous state)
  gives ``c_t`` first, and the step reads it: ``h_t = RNN([y_{t-1}; c_t; a_{t-1}?], s_{t-1})``;

then both form the attentional vector ``a_t = tanh(W_c [c_t; h_t])`` and the output distribution
``softmax(W_o dropout(a_t))``. ``a_{t-1}?`` is present with ``input_feeding`` (Luong's input
feeding: the previous attentional vector joins the next input; zeros at the first step). With
``tie_embeddings``, ``W_o`` is the target embedding matrix and ``a_t`` first goes through a
projection to ``embedding_dim`` (Press and Wolf 2017).

Teacher forcing runs in one of two ways that give the same numbers:

* one shot, for Luong attention without input feeding, where no step needs the previous step's
  attention: the decoder RNN reads the whole target in one call (cuDNN on a GPU), attention scores
  all steps in one batched matmul, and the attentional and output layers run on all steps at once;
* step by step, for Bahdanau attention and for input feeding: a loop over target positions with
  the same :meth:`Seq2Seq.decode_step` arithmetic that search uses (the output layer still runs
  once on all steps).

Scheduled sampling (Bengio et al. 2015), in the parallel two-pass form (Duckworth et al. 2019;
Mihaylova and Liu 2019) that keeps the one-shot path: in training, with a mixing probability
``p > 0`` (:attr:`Seq2Seq.sampling_probability`, set per step from
:class:`ScheduledSamplingConfig`), a first teacher-forced pass without gradients (in training
mode, so with dropout, and on the same encoder output) predicts a token at every position; each
gold input after BOS that is not padding is then replaced, independently with probability ``p``,
by the prediction made one position earlier, and the ordinary teacher-forced pass over these mixed
inputs gives the loss (the targets stay the reference). ``p = 0`` runs no first pass and draws no
random numbers; eval mode never mixes.

Word dropout (``source_word_dropout``, ``target_word_dropout``; Gal and Ghahramani 2016, Sennrich
and Zhang 2019), in training only: whole token embeddings of the source, and of the decoder's
teacher-forced inputs after BOS, are zeroed at random before the element-wise embedding dropout.

Decoder state (:class:`DecoderState`): the source's memory, keys and mask
(:class:`EncodedSource`), the decoder's ``h`` (and ``c``), ``layers x B x H`` as in PyTorch's
modules, and the previous attentional vector ``B x H``. The initial ``h`` (and ``c``) come from the
bridge: every encoder layer and direction's final state, concatenated per row
(``layers*dirs*H_enc``), through one linear layer and ``tanh`` to ``decoder_layers*H_dec``, split
into the decoder's layers (one such layer for ``h`` and one for ``c``); ``bridge: zero`` starts from
zeros. So any encoder depth and direction count maps onto any decoder depth.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import pydantic
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlp_rnn.config import Schema
from nlp_rnn.models.attention import make_attention
from nlp_rnn.models.encoder import RNNEncoder


class ScheduledSamplingConfig(Schema):
    """Scheduled sampling's mixing probability as a function of the optimizer step (the
    ``scheduled_sampling:`` section of a model); ``probability: 0`` (the default) is off."""

    probability: float = pydantic.Field(
        0.0,
        ge=0,
        le=1,
        description="the mixing probability: constant's value, linear's at end_step, inverse_sigmoid's cap",
    )
    schedule: Literal["constant", "linear", "inverse_sigmoid"] = pydantic.Field(
        "constant",
        description="constant: probability from start_step; linear: 0 at start_step rising to probability "
        "at end_step; inverse_sigmoid: 1 - k / (k + exp((step - start_step) / k)), capped at probability",
    )
    start_step: int = pydantic.Field(0, ge=0, description="no mixing before this optimizer step")
    end_step: int | None = pydantic.Field(
        None, ge=1, description="linear only (required there): the step where probability is reached"
    )
    k: float = pydantic.Field(
        1000.0, ge=1, description="inverse_sigmoid's speed: uncapped, 1/2 at k ln k steps after start_step"
    )
    sampling: Literal["argmax", "sample"] = pydantic.Field(
        "argmax", description="the model's prediction: its most probable token, or a sample from its softmax"
    )

    @pydantic.model_validator(mode="after")
    def _end_step(self) -> ScheduledSamplingConfig:
        if self.schedule == "linear" and (self.end_step is None or self.end_step <= self.start_step):
            raise ValueError(
                f"the linear schedule needs end_step > start_step ({self.start_step}), got {self.end_step}"
            )
        if self.schedule != "linear" and self.end_step is not None:
            raise ValueError(f"end_step applies to the linear schedule only, not to {self.schedule!r}")
        return self

    def probability_at(self, step: int) -> float:
        """The mixing probability at optimizer step ``step`` (0-based, as the learning rate counts)."""
        if step < self.start_step:
            return 0.0
        steps = step - self.start_step
        if self.schedule == "constant":
            return self.probability
        if self.schedule == "linear":
            assert self.end_step is not None
            return self.probability * min(1.0, steps / (self.end_step - self.start_step))
        # 1 - k / (k + e^x) = sigmoid(x - ln k), which cannot overflow for large x.
        return min(self.probability, 1.0 / (1.0 + math.exp(math.log(self.k) - steps / self.k)))


class Seq2SeqConfig(Schema):
    """The architecture of :class:`Seq2Seq` (the ``model:`` section of a translation stage)."""

    embedding_dim: int = pydantic.Field(256, ge=1, description="source and target token embedding size")
    cell: Literal["gru", "lstm"] = pydantic.Field("lstm", description="recurrent cell of encoder and decoder")
    encoder_hidden: int = pydantic.Field(256, ge=1, description="encoder units per direction and layer")
    encoder_layers: int = pydantic.Field(2, ge=1, description="stacked encoder layers")
    bidirectional: bool = pydantic.Field(True, description="the encoder also reads the source backwards")
    decoder_hidden: int = pydantic.Field(512, ge=1, description="decoder units per layer")
    decoder_layers: int = pydantic.Field(2, ge=1, description="stacked decoder layers")
    attention: Literal["bahdanau", "dot", "general", "concat"] = pydantic.Field(
        "general",
        description="bahdanau: additive, queried by the previous decoder state, context fed to the step; "
        "dot / general / concat: Luong's scores, queried by the new decoder state",
    )
    input_feeding: bool = pydantic.Field(
        True, description="feed the previous attentional vector into the next decoder step (Luong)"
    )
    dropout: float = pydantic.Field(
        0.3, ge=0, lt=1, description="between recurrent layers, on the memory and before the output layer"
    )
    embedding_dropout: float = pydantic.Field(
        0.1, ge=0, lt=1, description="dropout on source and target embeddings"
    )
    source_word_dropout: float = pydantic.Field(
        0.0,
        ge=0,
        lt=1,
        description="training only: share of source tokens whose whole embedding is zeroed (word dropout)",
    )
    target_word_dropout: float = pydantic.Field(
        0.0,
        ge=0,
        lt=1,
        description="training only: share of the decoder's target inputs (after BOS) whose whole "
        "embedding is zeroed, so the decoder leans on the source",
    )
    tie_embeddings: bool = pydantic.Field(
        False,
        description="the output layer reuses the target embedding matrix (after a projection of the "
        "attentional vector to embedding_dim)",
    )
    share_source_target_embeddings: bool = pydantic.Field(
        False, description="one embedding for source and target (a joint vocabulary of one size)"
    )
    bridge: Literal["linear", "zero"] = pydantic.Field(
        "linear",
        description="decoder initial state: linear + tanh over the encoder's final states, or zeros",
    )
    label_smoothing: float = pydantic.Field(
        0.1, ge=0, lt=1, description="share of the target probability spread over the vocabulary"
    )
    scheduled_sampling: ScheduledSamplingConfig = pydantic.Field(
        default_factory=ScheduledSamplingConfig,
        description="training only: replace some gold decoder inputs by the model's own predictions",
    )

    @property
    def memory_size(self) -> int:
        """Features per source position of the encoder outputs."""
        return self.encoder_hidden * (2 if self.bidirectional else 1)

    @pydantic.model_validator(mode="after")
    def _dot_sizes(self) -> Seq2SeqConfig:
        if self.attention == "dot" and self.decoder_hidden != self.memory_size:
            raise ValueError(
                f"attention 'dot' needs decoder_hidden == encoder_hidden x directions = {self.memory_size}, "
                f"got decoder_hidden {self.decoder_hidden} (or use 'general')"
            )
        return self


class EncodedSource(NamedTuple):
    """What the decoder attends to, computed once per source."""

    memory: Tensor  # B x S x M, encoder outputs, zeros at padding
    keys: Tensor  # B x S x K, the attention's precomputed keys
    mask: Tensor  # B x S, true at real source tokens
    extended: Tensor | None = None  # B x S, source ids in a copying model's extended vocabulary

    def index_select(self, index: Tensor) -> EncodedSource:
        """Rows ``index`` (a 1-d long tensor) of every tensor."""
        return EncodedSource(*(None if part is None else part.index_select(0, index) for part in self))


class DecoderState(NamedTuple):
    """Everything :meth:`Seq2Seq.decode_step` reads: the source and the decoder's recurrent state."""

    source: EncodedSource
    hidden: Tensor  # L x B x H
    cell: Tensor | None  # L x B x H for an LSTM, else None
    attentional: Tensor  # B x H, the previous step's attentional vector (zeros before the first)

    def index_select(self, index: Tensor) -> DecoderState:
        """Rows ``index`` of every tensor: repeat rows into beams, or drop finished sentences."""
        return self.reorder(index)._replace(source=self.source.index_select(index))

    def reorder(self, index: Tensor) -> DecoderState:
        """Rows ``index`` of the recurrent tensors only, the source kept as it is.

        For beam search's reordering, which moves rows only among the beams of one sentence (whose
        source rows are equal), so the memory is not copied at every step.
        """
        return self._replace(
            hidden=self.hidden.index_select(1, index),
            cell=None if self.cell is None else self.cell.index_select(1, index),
            attentional=self.attentional.index_select(0, index),
        )


class Bridge(nn.Module):
    """Decoder initial states from the encoder's final states: ``tanh(W [all layers and directions])``.

    One linear layer per state part (``h``, and ``c`` for an LSTM).
    """

    def __init__(self, encoder_size: int, decoder_layers: int, decoder_hidden: int, parts: int) -> None:
        super().__init__()
        self.decoder_layers, self.decoder_hidden = decoder_layers, decoder_hidden
        self.linears = nn.ModuleList(
            nn.Linear(encoder_size, decoder_layers * decoder_hidden) for _ in range(parts)
        )

    def forward(self, parts: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """``layers*dirs x B x H_enc`` tensors -> ``decoder_layers x B x H_dec`` tensors, in order."""
        return tuple(self._map(linear, part) for linear, part in zip(self.linears, parts, strict=True))

    def _map(self, linear: nn.Linear, states: Tensor) -> Tensor:
        batch = states.size(1)
        flat = states.transpose(0, 1).reshape(batch, -1)  # B x layers*dirs*H_enc
        mapped = torch.tanh(linear(flat))  # B x L*H
        return mapped.view(batch, self.decoder_layers, self.decoder_hidden).transpose(0, 1).contiguous()


def choose_tokens(probabilities: Tensor, sampling: Literal["argmax", "sample"]) -> Tensor:
    """Token ids (``...``) from distributions (``... x V``): the most probable, or one sample each."""
    if sampling == "argmax":
        return probabilities.argmax(dim=-1)
    flat = probabilities.flatten(0, -2)  # N x V
    return torch.multinomial(flat, 1).view(probabilities.shape[:-1])


def mix_inputs(tgt_in: Tensor, predicted: Tensor, probability: float, pad_id: int) -> Tensor:
    """Scheduled sampling's decoder inputs: each gold ``tgt_in[:, t]`` (B x T) with ``t >= 1`` that
    is not padding becomes ``predicted[:, t - 1]`` (B x T, the model's choice after reading input
    ``t - 1``) with probability ``probability``, independently per position; BOS and padding stay."""
    replace = torch.rand(tgt_in.shape, device=tgt_in.device) < probability  # B x T
    replace[:, 0] = False
    replace &= tgt_in != pad_id
    previous = torch.cat([tgt_in[:, :1], predicted[:, :-1]], dim=1)  # B x T
    return torch.where(replace, previous, tgt_in)


def drop_words(embedded: Tensor, tokens: Tensor, probability: float, keep_first: bool = False) -> Tensor:
    """Word dropout (Gal and Ghahramani 2016; Sennrich and Zhang 2019): embeddings ``embedded``
    (B x T x E) of ``tokens`` (B x T) with each position's whole vector zeroed, independently with
    ``probability``; the others are not rescaled, so a dropped word reads as "some word here".
    ``keep_first`` spares position 0 (the decoder's BOS). Padding embeddings are zeros already."""
    drop = torch.rand(tokens.shape, device=tokens.device) < probability  # B x T
    if keep_first:
        drop[:, 0] = False
    return embedded.masked_fill(drop.unsqueeze(-1), 0.0)


def _make_decoder_rnn(config: Seq2SeqConfig, input_size: int) -> nn.RNNBase:
    rnn = nn.LSTM if config.cell == "lstm" else nn.GRU
    dropout = config.dropout if config.decoder_layers > 1 else 0.0
    return rnn(input_size, config.decoder_hidden, config.decoder_layers, batch_first=True, dropout=dropout)


class Seq2Seq(nn.Module):
    """Attention encoder-decoder over token ids.

    ``forward(batch)`` takes ``src`` (B x S), ``src_lengths`` (B), ``tgt_in`` (B x T: BOS +
    target) and ``tgt_out`` (B x T: target + EOS), right-padded with ``pad_id``, and returns
    ``loss`` (the label-smoothed cross-entropy, mean per real target token) and ``tokens`` (their
    count, a 0-d long tensor). Search uses :meth:`encode` and :meth:`decode_step`.
    ``sampling_probability`` is scheduled sampling's mixing probability for the current step
    (0: plain teacher forcing), which :class:`~nlp_rnn.tasks.translation.ScheduledSampling`
    sets before every optimizer step.
    """

    def __init__(
        self,
        config: Seq2SeqConfig,
        *,
        source_vocab_size: int,
        target_vocab_size: int,
        bos_id: int,
        eos_id: int,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        if config.share_source_target_embeddings and source_vocab_size != target_vocab_size:
            raise ValueError(
                "share_source_target_embeddings needs one joint vocabulary, got source and target sizes "
                f"{source_vocab_size} and {target_vocab_size}"
            )
        self.config = config
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.sampling_probability = 0.0
        self.source_embedding = nn.Embedding(source_vocab_size, config.embedding_dim, padding_idx=pad_id)
        self.target_embedding = (
            self.source_embedding
            if config.share_source_target_embeddings
            else nn.Embedding(target_vocab_size, config.embedding_dim, padding_idx=pad_id)
        )
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.encoder = RNNEncoder(
            config.embedding_dim,
            config.encoder_hidden,
            config.cell,
            num_layers=config.encoder_layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout,
            output_dropout=config.dropout,
        )
        parts = 2 if config.cell == "lstm" else 1
        encoder_size = config.encoder_layers * config.memory_size
        self.bridge = (
            Bridge(encoder_size, config.decoder_layers, config.decoder_hidden, parts)
            if config.bridge == "linear"
            else None
        )
        self.attention = make_attention(config.attention, config.decoder_hidden, config.memory_size)
        self.query_before_step = config.attention == "bahdanau"
        input_size = config.embedding_dim
        input_size += config.memory_size if self.query_before_step else 0
        input_size += config.decoder_hidden if config.input_feeding else 0
        self.decoder = _make_decoder_rnn(config, input_size)
        self.attentional_layer = nn.Linear(config.memory_size + config.decoder_hidden, config.decoder_hidden)
        self.output_dropout = nn.Dropout(config.dropout)
        if config.tie_embeddings:
            self.output_projection: nn.Module = nn.Linear(
                config.decoder_hidden, config.embedding_dim, bias=False
            )
            self.generator = nn.Linear(config.embedding_dim, target_vocab_size)
            self.generator.weight = self.target_embedding.weight
        else:
            self.output_projection = nn.Identity()
            self.generator = nn.Linear(config.decoder_hidden, target_vocab_size)

    @property
    def one_shot(self) -> bool:
        """Whether teacher forcing runs the decoder in one call (Luong attention, no input feeding)."""
        return not self.query_before_step and not self.config.input_feeding

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        state = self.encode(batch["src"], batch["src_lengths"])
        tgt_in = self.scheduled_inputs(state, batch["tgt_in"])  # B x T
        logits = self.teacher_forced_logits(state, tgt_in)  # B x T x V
        targets = batch["tgt_out"]  # B x T
        tokens = (targets != self.pad_id).sum()
        loss = F.cross_entropy(
            logits.flatten(0, 1),
            targets.flatten(),
            ignore_index=self.pad_id,
            label_smoothing=self.config.label_smoothing,
            reduction="sum",
        )
        return {"loss": loss / tokens.clamp(min=1), "tokens": tokens}

    def encode(self, src: Tensor, src_lengths: Tensor) -> DecoderState:
        """The initial decoder state for right-padded sources ``src`` (B x S) of ``src_lengths`` (B)."""
        embedded = self.source_embedding(src)  # B x S x E
        if self.training and self.config.source_word_dropout:
            embedded = drop_words(embedded, src, self.config.source_word_dropout)
        embedded = self.embedding_dropout(embedded)
        encoded = self.encoder(embedded, src_lengths)
        memory = encoded.sequence  # B x S x M
        positions = torch.arange(src.size(1), device=src.device)  # S
        mask = positions < src_lengths.to(src.device).unsqueeze(1)  # B x S
        source = EncodedSource(memory, self.attention.precompute_keys(memory), mask)
        hidden, cell = self._initial_recurrent(encoded.states, src.size(0), memory)
        attentional = memory.new_zeros(src.size(0), self.config.decoder_hidden)  # B x H
        return DecoderState(source, hidden, cell, attentional)

    def decode_step(self, prev_tokens: Tensor, state: DecoderState) -> tuple[Tensor, DecoderState, Tensor]:
        """One target step for every row: ``prev_tokens`` (B) -> log-probabilities (B x V), the new
        state, and the attention weights (B x S, exactly 0 at padding)."""
        embedded = self.embedding_dropout(self.target_embedding(prev_tokens))  # B x E
        attentional, state, weights = self._step(embedded, state)  # B x H, _, B x S
        return F.log_softmax(self._logits(attentional), dim=-1), state, weights

    def teacher_forced_logits(self, state: DecoderState, tgt_in: Tensor, stepwise: bool = False) -> Tensor:
        """Output logits (B x T x V) for every position of ``tgt_in`` (B x T) from the encoded state.

        Runs one shot when :attr:`one_shot` allows it, unless ``stepwise`` forces the step loop.
        """
        embedded = self.embedding_dropout(self.target_inputs(tgt_in))  # B x T x E
        if self.one_shot and not stepwise:
            attentional = self._attentional_one_shot(embedded, state)  # B x T x H
        else:
            attentional = self._attentional_stepwise(embedded, state)  # B x T x H
        return self._logits(attentional)

    def target_inputs(self, tgt_in: Tensor) -> Tensor:
        """Teacher forcing's decoder input embeddings (B x T x E) of ``tgt_in`` (B x T, ids the
        target embedding reads), with target word dropout in training (before embedding dropout)."""
        embedded = self.target_embedding(tgt_in)  # B x T x E
        if self.training and self.config.target_word_dropout:
            embedded = drop_words(embedded, tgt_in, self.config.target_word_dropout, keep_first=True)
        return embedded

    def scheduled_inputs(self, state: DecoderState, tgt_in: Tensor) -> Tensor:
        """The decoder inputs of a training forward: ``tgt_in`` (B x T) itself, or, in training mode
        with ``sampling_probability > 0``, mixed with the predictions of a first pass (no gradients)."""
        if not self.training or self.sampling_probability == 0:
            return tgt_in
        with torch.no_grad():
            predicted = self.predicted_inputs(state, tgt_in)  # B x T
        return mix_inputs(tgt_in, predicted, self.sampling_probability, self.pad_id)

    def predicted_inputs(self, state: DecoderState, tgt_in: Tensor) -> Tensor:
        """The model's token (B x T) after each teacher-forced input of ``tgt_in`` (B x T), chosen
        as ``config.scheduled_sampling.sampling`` says, in ids the embedding can read."""
        probabilities = F.softmax(self.teacher_forced_logits(state, tgt_in).float(), dim=-1)  # B x T x V
        return choose_tokens(probabilities, self.config.scheduled_sampling.sampling)

    def _initial_recurrent(
        self, encoder_states: Tensor | tuple[Tensor, Tensor], batch: int, memory: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        """Decoder ``h`` and ``c`` (``L x B x H``; ``c`` None for a GRU) from the encoder's final states."""
        parts = tuple(encoder_states) if self.config.cell == "lstm" else (encoder_states,)
        if self.bridge is not None:
            parts = self.bridge(parts)
        else:
            shape = (self.config.decoder_layers, batch, self.config.decoder_hidden)
            parts = tuple(memory.new_zeros(shape) for _ in parts)
        return parts[0], (parts[1] if len(parts) == 2 else None)

    def _recurrent(self, state: DecoderState) -> Tensor | tuple[Tensor, Tensor]:
        """The state in the form ``nn.GRU`` / ``nn.LSTM`` take."""
        return state.hidden if state.cell is None else (state.hidden, state.cell)

    def _attentional_vector(self, context: Tensor, hidden: Tensor) -> Tensor:
        """``tanh(W_c [c; h])`` for contexts ``... x M`` and decoder outputs ``... x H``."""
        return torch.tanh(self.attentional_layer(torch.cat([context, hidden], dim=-1)))  # ... x H

    def _logits(self, attentional: Tensor) -> Tensor:
        """Output logits ``... x V`` from attentional vectors ``... x H``."""
        return self.generator(self.output_projection(self.output_dropout(attentional)))

    def _step(self, embedded: Tensor, state: DecoderState) -> tuple[Tensor, DecoderState, Tensor]:
        """One decoder step from the previous token's embedding (B x E): the attentional vector
        (B x H), the new state and the attention weights (B x S)."""
        source = state.source
        inputs = [embedded]  # B x E
        if self.query_before_step:  # Bahdanau: attend with s_{t-1}, then read the context
            context, weights = self.attention(state.hidden[-1], source.keys, source.memory, source.mask)
            inputs.append(context)  # B x M
        if self.config.input_feeding:
            inputs.append(state.attentional)  # B x H
        output, recurrent = self.decoder(torch.cat(inputs, dim=-1).unsqueeze(1), self._recurrent(state))
        hidden = output.squeeze(1)  # B x H
        if not self.query_before_step:  # Luong: attend with h_t
            context, weights = self.attention(hidden, source.keys, source.memory, source.mask)
        attentional = self._attentional_vector(context, hidden)  # B x H
        h, c = recurrent if state.cell is not None else (recurrent, None)  # L x B x H each
        return attentional, DecoderState(source, h, c, attentional), weights

    def _attentional_stepwise(self, embedded: Tensor, state: DecoderState) -> Tensor:
        """Attentional vectors (B x T x H) for target embeddings (B x T x E), one step at a time."""
        steps = []
        for t in range(embedded.size(1)):
            attentional, state, _ = self._step(embedded[:, t], state)  # B x H
            steps.append(attentional)
        return torch.stack(steps, dim=1)  # B x T x H

    def _attentional_one_shot(self, embedded: Tensor, state: DecoderState) -> Tensor:
        """Attentional vectors (B x T x H) for target embeddings (B x T x E) with one RNN call."""
        source = state.source
        outputs, _ = self.decoder(embedded, self._recurrent(state))  # B x T x H
        context, _ = self.attention(outputs, source.keys, source.memory, source.mask)  # B x T x M
        return self._attentional_vector(context, outputs)  # B x T x H
