"""Attention over an encoded source: which source positions a decoder query reads, and what it reads.

Every variant scores a query against the source's keys, turns the scores into weights with a
softmax over the real (unpadded) source positions, and returns the weighted average of the values
(the *context*) with the weights. The scores (Bahdanau et al. 2015; Luong et al. 2015):

* ``bahdanau`` / ``concat`` (additive): ``v^T tanh(W_q q + W_k k)``. Luong's ``concat``,
  ``v^T tanh(W [q; k])``, is the same function (``W [q; k] = W_q q + W_k k``), so both names build
  :class:`AdditiveAttention`; the two differ in how the decoder uses them (Bahdanau's query is the
  decoder state *before* the step and the context feeds the step's input; Luong's is the state
  after the step, see :mod:`nlp_rnn.models.seq2seq`).
* ``dot``: ``q . k``; query and keys must have one size.
* ``general``: ``q^T W k``.

The part of the score that depends on the source alone (``W_k k`` for additive, ``W k`` for
general) is computed once per source by :meth:`Attention.precompute_keys`, not once per decoder
step. ``forward`` takes one query per row (``B x H``, one decoder step) or all of a row's queries
at once (``B x T x H``, teacher forcing with a one-shot decoder), in which case dot and general
score every step in one batched matrix product (``B x T x H`` by ``B x H x S``).

Padding gets a score of minus infinity, so its weight is exactly 0 and it adds nothing to the
context; every row needs at least one real source position.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

ATTENTIONS = ("bahdanau", "dot", "general", "concat")


class Attention(nn.Module, ABC):
    """The common interface: ``precompute_keys(memory)`` once, then ``forward`` per query.

    Subclasses define :meth:`precompute_keys` and :meth:`score`.
    """

    @abstractmethod
    def precompute_keys(self, memory: Tensor) -> Tensor:
        """Keys (B x S x K) from the encoder outputs (B x S x M), computed once per source."""

    @abstractmethod
    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        """Unnormalised scores (B x T x S) of queries (B x T x H) against keys (B x S x K)."""

    def forward(self, query: Tensor, keys: Tensor, values: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Context and weights for one query per row or for T queries per row.

        Args:
            query: B x H (one step) or B x T x H.
            keys: B x S x K, from :meth:`precompute_keys`.
            values: B x S x M, usually the encoder outputs the keys came from.
            mask: B x S, true at real source positions.

        Returns:
            ``(context, weights)``: B x M and B x S for a B x H query, else B x T x M and B x T x S;
            each row of weights sums to 1 and is exactly 0 at padding.
        """
        one_step = query.dim() == 2
        queries = query.unsqueeze(1) if one_step else query  # B x T x H
        scores = self.score(queries, keys)  # B x T x S
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))  # B x T x S
        weights = torch.softmax(scores, dim=-1)  # B x T x S
        context = torch.bmm(weights, values)  # B x T x M
        if one_step:
            return context.squeeze(1), weights.squeeze(1)  # B x M, B x S
        return context, weights


class DotAttention(Attention):
    """Luong's ``dot``: ``score(q, k) = q . k``; the keys are the memory itself."""

    def precompute_keys(self, memory: Tensor) -> Tensor:
        return memory  # B x S x M

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(query, keys.transpose(1, 2))  # B x T x H by B x H x S -> B x T x S


class GeneralAttention(Attention):
    """Luong's ``general``: ``score(q, k) = q^T W k``; ``W k`` is precomputed, so a step is a dot product."""

    def __init__(self, query_size: int, key_size: int) -> None:
        super().__init__()
        self.key_projection = nn.Linear(key_size, query_size, bias=False)

    def precompute_keys(self, memory: Tensor) -> Tensor:
        return self.key_projection(memory)  # B x S x H

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(query, keys.transpose(1, 2))  # B x T x H by B x H x S -> B x T x S


class AdditiveAttention(Attention):
    """Bahdanau's additive attention (= Luong's ``concat``): ``v^T tanh(W_q q + W_k k)``.

    ``W_k k`` is precomputed; the query's projection is added to every key at each step.
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int) -> None:
        super().__init__()
        self.query_projection = nn.Linear(query_size, attention_size, bias=False)
        self.key_projection = nn.Linear(key_size, attention_size)
        self.v = nn.Linear(attention_size, 1, bias=False)

    def precompute_keys(self, memory: Tensor) -> Tensor:
        return self.key_projection(memory)  # B x S x A

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        projected = self.query_projection(query)  # B x T x A
        hidden = (projected.unsqueeze(2) + keys.unsqueeze(1)).tanh_()  # B x T x S x A, one buffer
        return self.v(hidden).squeeze(-1)  # B x T x S


def make_attention(kind: str, query_size: int, key_size: int, attention_size: int | None = None) -> Attention:
    """The attention named ``kind`` (one of :data:`ATTENTIONS`) for queries and keys of these sizes.

    ``attention_size`` is the hidden size of additive attention (default: ``query_size``).
    """
    if kind in ("bahdanau", "concat"):
        return AdditiveAttention(query_size, key_size, attention_size or query_size)
    if kind == "general":
        return GeneralAttention(query_size, key_size)
    if kind == "dot":
        if query_size != key_size:
            raise ValueError(f"dot attention needs query_size == key_size, got {query_size} and {key_size}")
        return DotAttention()
    raise ValueError(f"attention must be one of {ATTENTIONS}, got {kind!r}")
