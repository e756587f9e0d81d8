"""A pointer-generator (See et al. 2017): the attention encoder-decoder that can also copy source words.

The model is a :class:`~nlp_rnn.models.seq2seq.Seq2Seq` whose output distribution at step ``t`` mixes
generating from the vocabulary and copying a source position::

    p_gen = sigmoid(w [a_t; x_t] + b)                     a_t: attentional vector, x_t: input embedding
    P(w)  = p_gen * P_vocab(w) + (1 - p_gen) * sum_{i: src_i = w} attention_t(i)

over the *extended vocabulary*: the model's ``V`` ids followed by one id per distinct
out-of-vocabulary word of the source (``V + j`` for the ``j``-th, numbered per article in order of
first appearance). So a word the vocabulary lacks is still produced when the article has it.
Batches carry ``src_ext`` (B x S, the source in extended ids; in-vocabulary words keep their id) and
``tgt_out`` in extended ids (a target word outside the vocabulary that the article has gets its copy
id, else ``<unk>``); inputs (``src``, ``tgt_in``) use plain ids, ``<unk>`` for out-of-vocabulary words.

Training never builds the ``B x T x V'`` mixture: the probability of the reference token is
``p_gen * P_vocab(y) + (1 - p_gen) * sum_i attention(i) [src_ext_i = y]``, from one gather and one
``B x T x S`` comparison. Label smoothing regularises the generator's own distribution:
``loss = (1 - eps) * NLL(mixture) + eps * CE(uniform, P_vocab)``.

Coverage (See et al.'s coverage loss): ``coverage_weight * sum_i min(attention_t(i), c_t(i))`` per
target token, with ``c_t`` the attention summed over the earlier steps; it penalises attending
again to what was already covered, which curbs repetition. It is a loss only (the coverage
vector is not an input to the attention), so the one-shot teacher forcing still applies.

Scheduled sampling (see :mod:`nlp_rnn.models.seq2seq`) predicts from the mixture, so a copy id can
be chosen; like search's outputs it is fed back as ``<unk>``, the id its embedding reads.
"""

from __future__ import annotations

import pydantic
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nlp_rnn.models.seq2seq import DecoderState, Seq2Seq, Seq2SeqConfig, choose_tokens

_TINY = 1e-12  # keeps log() finite where the mixture gives a token no probability at all


class PointerGeneratorConfig(Seq2SeqConfig):
    """:class:`Seq2SeqConfig` plus the copy switch and the coverage loss weight."""

    copy_source: bool = pydantic.Field(
        True, description="mix copying source words into the output distribution"
    )
    coverage_weight: float = pydantic.Field(
        0.0, ge=0, description="weight of the coverage loss (0: off; See et al. use 1)"
    )
    label_smoothing: float = pydantic.Field(
        0.0, ge=0, lt=1, description="share of the loss spent on the generator's uniform cross-entropy"
    )
    share_source_target_embeddings: bool = pydantic.Field(
        True, description="one embedding for articles and summaries (they share the vocabulary)"
    )


class PointerGenerator(Seq2Seq):
    """:class:`Seq2Seq` with copying; ``forward`` also returns ``nll`` and ``coverage`` (per token).

    With ``copy_source: false`` it is the plain model over the same batches (``src_ext`` ignored, target
    ids outside the vocabulary read as ``<unk>``), so one pipeline compares both.
    """

    config: PointerGeneratorConfig

    def __init__(
        self,
        config: PointerGeneratorConfig,
        *,
        vocab_size: int,
        bos_id: int,
        eos_id: int,
        unk_id: int,
        pad_id: int = 0,
    ) -> None:
        super().__init__(
            config,
            source_vocab_size=vocab_size,
            target_vocab_size=vocab_size,
            bos_id=bos_id,
            eos_id=eos_id,
            pad_id=pad_id,
        )
        self.vocab_size, self.unk_id = vocab_size, unk_id
        switch_inputs = config.decoder_hidden + config.embedding_dim
        self.switch = nn.Linear(switch_inputs, 1) if config.copy_source else None

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        state = self.encode(batch["src"], batch["src_lengths"], batch.get("src_ext"))
        targets = batch["tgt_out"]  # B x T, extended ids
        real = targets != self.pad_id  # B x T
        tokens = real.sum()
        tgt_in = self.scheduled_inputs(state, batch["tgt_in"])  # B x T
        log_probs, generator, weights = self.teacher_forced_scores(state, tgt_in, targets)
        nll = -(log_probs * real).sum()
        loss = nll
        eps = self.config.label_smoothing
        if eps > 0:
            uniform = -(generator.mean(dim=-1) * real).sum()
            loss = (1 - eps) * nll + eps * uniform
        coverage = self.coverage_loss(weights, real)
        if self.config.coverage_weight > 0:
            loss = loss + self.config.coverage_weight * coverage
        count = tokens.clamp(min=1)
        return {"loss": loss / count, "tokens": tokens, "nll": nll / count, "coverage": coverage / count}

    def encode(self, src: Tensor, src_lengths: Tensor, src_ext: Tensor | None = None) -> DecoderState:
        """:meth:`Seq2Seq.encode`, keeping the extended source ids (``src`` itself when not given)."""
        state = super().encode(src, src_lengths)
        extended = src if src_ext is None else src_ext.to(src.device)  # B x S
        return state._replace(source=state.source._replace(extended=extended))

    def teacher_forced_scores(
        self, state: DecoderState, tgt_in: Tensor, tgt_out: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Log-probabilities of the reference tokens ``tgt_out`` (B x T, extended ids) under the
        mixture, the generator's log-probabilities (B x T x V) and the attention weights (B x T x S)."""
        attentional, embedded, weights = self._teacher_forced(state, tgt_in)  # B x T x H, x E, x S
        generator = F.log_softmax(self._logits(attentional).float(), dim=-1)  # B x T x V
        in_vocab = tgt_out < self.vocab_size  # B x T
        plain = torch.where(in_vocab, tgt_out, self.unk_id)  # B x T
        generated = generator.gather(-1, plain.unsqueeze(-1)).squeeze(-1)  # B x T
        if self.switch is None:
            return generated, generator, weights
        p_gen = self._p_gen(attentional, embedded).squeeze(-1)  # B x T
        vocab_part = torch.where(in_vocab, p_gen * generated.exp(), 0.0)  # B x T
        source_ids = state.source.extended.unsqueeze(1)  # B x 1 x S
        copied = (weights.float() * (source_ids == tgt_out.unsqueeze(-1))).sum(-1)  # B x T
        return torch.log(vocab_part + (1 - p_gen) * copied + _TINY), generator, weights

    def decode_step(self, prev_tokens: Tensor, state: DecoderState) -> tuple[Tensor, DecoderState, Tensor]:
        """One step for every row: ``prev_tokens`` (B, extended ids) -> log-probabilities over the
        extended vocabulary (B x V', V' = V + the batch's most source-only words), state, weights (B x S)."""
        inputs = self._plain_ids(prev_tokens)  # B
        embedded = self.embedding_dropout(self.target_embedding(inputs))  # B x E
        attentional, state, weights = self._step(embedded, state)  # B x H, _, B x S
        generator = F.softmax(self._logits(attentional).float(), dim=-1)  # B x V
        if self.switch is None:
            return generator.log(), state, weights
        mixture = self._mixture(generator, attentional, embedded, weights, state.source.extended)  # B x V'
        return torch.log(mixture + _TINY), state, weights

    def predicted_inputs(self, state: DecoderState, tgt_in: Tensor) -> Tensor:
        """The model's token (B x T) after each teacher-forced input of ``tgt_in`` (B x T), chosen
        from the mixture over the extended vocabulary, with copy ids as ``<unk>``."""
        attentional, embedded, weights = self._teacher_forced(state, tgt_in)  # B x T x H, x E, x S
        probabilities = F.softmax(self._logits(attentional).float(), dim=-1)  # B x T x V
        if self.switch is not None:
            extended = state.source.extended.unsqueeze(1).expand_as(weights)  # B x T x S
            # B x T x V'
            probabilities = self._mixture(probabilities, attentional, embedded, weights, extended)
        return self._plain_ids(choose_tokens(probabilities, self.config.scheduled_sampling.sampling))

    @staticmethod
    def coverage_loss(weights: Tensor, real: Tensor) -> Tensor:
        """``sum_t sum_i min(a_t(i), sum_{t' < t} a_t'(i))`` over the real target steps ``real`` (B x T)."""
        covered = weights.cumsum(dim=1) - weights  # B x T x S: attention before step t
        return (torch.minimum(weights, covered).sum(-1) * real).sum()

    def _plain_ids(self, ids: Tensor) -> Tensor:
        """Extended ids with every copy id replaced by ``<unk>`` (what the embeddings can read)."""
        return torch.where(ids < self.vocab_size, ids, self.unk_id)

    def _mixture(
        self, generator: Tensor, attentional: Tensor, embedded: Tensor, weights: Tensor, extended: Tensor
    ) -> Tensor:
        """``P(w)`` over the extended vocabulary (... x V') from the generator's probabilities
        (... x V), attentional vectors (... x H), input embeddings (... x E), attention weights
        (... x S) and the source's extended ids (... x S)."""
        width = max(self.vocab_size, int(extended.max()) + 1)
        p_gen = self._p_gen(attentional, embedded)  # ... x 1
        mixture = F.pad(p_gen * generator, (0, width - self.vocab_size))  # ... x V'
        return mixture.scatter_add_(-1, extended, (1 - p_gen) * weights.float())

    def _p_gen(self, attentional: Tensor, embedded: Tensor) -> Tensor:
        """The generation probability (... x 1) from attentional vectors (... x H) and input
        embeddings (... x E)."""
        assert self.switch is not None
        return torch.sigmoid(self.switch(torch.cat([attentional, embedded], dim=-1))).float()

    def _teacher_forced(self, state: DecoderState, tgt_in: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Attentional vectors (B x T x H), input embeddings (B x T x E) and attention weights
        (B x T x S) for inputs ``tgt_in``."""
        embedded = self.embedding_dropout(self.target_inputs(self._plain_ids(tgt_in)))  # B x T x E
        source = state.source
        if self.one_shot:
            outputs, _ = self.decoder(embedded, self._recurrent(state))  # B x T x H
            context, weights = self.attention(outputs, source.keys, source.memory, source.mask)
            return self._attentional_vector(context, outputs), embedded, weights
        steps, step_weights = [], []
        for t in range(embedded.size(1)):
            attentional, state, weights = self._step(embedded[:, t], state)  # B x H, _, B x S
            steps.append(attentional)
            step_weights.append(weights)
        return torch.stack(steps, dim=1), embedded, torch.stack(step_weights, dim=1)
