"""Several trained :class:`~nlp_rnn.models.seq2seq.Seq2Seq` models decoding as one.

:class:`Ensemble` has the interface greedy and beam search use (``encode``, ``decode_step``,
``bos_id`` / ``eos_id`` / ``pad_id``), so :mod:`nlp_rnn.models.search` decodes an ensemble exactly
as it decodes one model. Each step the members' next-token distributions are averaged
(``log mean_m p_m(y)``, computed as a log-sum-exp of their log-probabilities), as in OpenNMT-py and
fairseq; the attention weights returned are the members' mean. The members must share the
vocabularies and special ids; their architectures may differ (one GRU, one LSTM, other sizes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from nlp_rnn.models.seq2seq import DecoderState, EncodedSource, Seq2Seq


class EnsembleState(NamedTuple):
    """The members' decoder states, in member order."""

    members: tuple[DecoderState, ...]

    @property
    def source(self) -> EncodedSource:
        """The first member's source: search reads its shape, device and dtype only."""
        return self.members[0].source

    def index_select(self, index: Tensor) -> EnsembleState:
        """Rows ``index`` of every member's state (see :meth:`DecoderState.index_select`)."""
        return EnsembleState(tuple(state.index_select(index) for state in self.members))

    def reorder(self, index: Tensor) -> EnsembleState:
        """Rows ``index`` of every member's recurrent tensors (see :meth:`DecoderState.reorder`)."""
        return EnsembleState(tuple(state.reorder(index) for state in self.members))


class Ensemble(nn.Module):
    """Members decoding together; build it from models already in eval mode on one device."""

    def __init__(self, members: Sequence[Seq2Seq]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least two members, got {len(members)}")
        first = members[0]
        for k, member in enumerate(members[1:], start=2):
            ids = (member.bos_id, member.eos_id, member.pad_id)
            expected = (first.bos_id, first.eos_id, first.pad_id)
            if ids != expected:
                raise ValueError(f"member {k} has special ids {ids}, member 1 {expected}")
            sizes = (member.source_embedding.num_embeddings, member.generator.out_features)
            expected_sizes = (first.source_embedding.num_embeddings, first.generator.out_features)
            if sizes != expected_sizes:
                raise ValueError(
                    f"member {k} has source / target vocabularies of {sizes[0]} / {sizes[1]} ids, "
                    f"member 1 of {expected_sizes[0]} / {expected_sizes[1]}"
                )
        self.members = nn.ModuleList(members)
        self.bos_id, self.eos_id, self.pad_id = first.bos_id, first.eos_id, first.pad_id
        self._log_count = math.log(len(members))

    def encode(self, src: Tensor, src_lengths: Tensor) -> EnsembleState:
        """Every member's initial state for sources ``src`` (B x S) of ``src_lengths`` (B)."""
        return EnsembleState(tuple(member.encode(src, src_lengths) for member in self.members))

    def decode_step(self, prev_tokens: Tensor, state: EnsembleState) -> tuple[Tensor, EnsembleState, Tensor]:
        """One step of every member: ``prev_tokens`` (B) -> the log of the members' mean
        probabilities (B x V, fp32), the new states, and the mean attention weights (B x S)."""
        log_probs, states, weights = [], [], []
        for member, member_state in zip(self.members, state.members, strict=True):
            member_log_probs, new_state, member_weights = member.decode_step(prev_tokens, member_state)
            log_probs.append(member_log_probs.float())  # B x V
            states.append(new_state)
            weights.append(member_weights.float())  # B x S
        mean = torch.logsumexp(torch.stack(log_probs), dim=0) - self._log_count  # B x V
        like = state.source.memory.dtype
        return mean, EnsembleState(tuple(states)), torch.stack(weights).mean(0).to(like)
