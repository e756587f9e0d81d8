"""Sampling text from a language model: temperature, top-k and nucleus (top-p) filtering, and a
batched loop that generates several continuations of one context at once.

Filters apply in the order temperature, top-k, top-p (as in Hugging Face's ``generate``), so the
nucleus is taken from the distribution that temperature and top-k left. Temperature 0 is greedy
search, and so is ``top_k=1`` at any temperature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
from torch import Tensor

from nlp_rnn.models.encoder import State


class StepModel(Protocol):
    """What :func:`sample` needs of a model (:class:`~nlp_rnn.models.language_model.RNNLanguageModel`)."""

    def initial_state(self, batch: int, labels: Tensor | None = None) -> State: ...

    def logits(self, inputs: Tensor, state: State, labels: Tensor | None = None) -> tuple[Tensor, State]: ...


def filter_logits(logits: Tensor, top_k: int = 0, top_p: float = 1.0) -> Tensor:
    """``B x V`` logits with every token outside the ``top_k`` most likely and outside the nucleus
    set to ``-inf``; ``top_k=0`` and ``top_p=1`` keep everything.

    The nucleus is the smallest set of the most likely tokens whose probabilities reach ``top_p``
    (the most likely token always stays).
    """
    if top_k < 0 or not 0 < top_p <= 1:
        raise ValueError(f"need top_k >= 0 and 0 < top_p <= 1, got top_k={top_k}, top_p={top_p}")
    if 0 < top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # B x 1
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1:
        logits = logits.masked_fill(_outside_nucleus(logits, top_p), float("-inf"))
    return logits


NUCLEUS_CANDIDATES = 256  # the most likely tokens searched for the nucleus before a full sort


def _outside_nucleus(logits: Tensor, top_p: float) -> Tensor:
    """``B x V``: true where a token is outside the nucleus of ``top_p``.

    The nucleus is looked for among the :data:`NUCLEUS_CANDIDATES` most likely tokens (a top-k,
    much cheaper than sorting a large vocabulary at every generated token); only when their
    probabilities do not reach ``top_p`` in some row is the whole vocabulary sorted.
    """
    probs = torch.softmax(logits, dim=-1)  # B x V
    candidates = min(NUCLEUS_CANDIDATES, logits.size(-1))
    top, order = probs.topk(candidates, dim=-1)  # B x K, most likely first
    if candidates < logits.size(-1) and bool((top.sum(dim=-1) < top_p).any()):
        top, order = torch.sort(probs, dim=-1, descending=True)  # B x V
    before = torch.cumsum(top, dim=-1) - top  # probability of the more likely tokens
    return torch.ones_like(logits, dtype=torch.bool).scatter(-1, order, before >= top_p)


def next_tokens(
    logits: Tensor, temperature: float, top_k: int, top_p: float, generator: torch.Generator | None
) -> Tensor:
    """One token per row (B) drawn from ``B x V`` logits; temperature 0 takes the most likely."""
    if temperature < 0:
        raise ValueError(f"temperature must be 0 or more, got {temperature}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    filtered = filter_logits(logits.float() / temperature, top_k, top_p)
    probs = torch.softmax(filtered, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)  # B


@torch.inference_mode()
def sample(
    model: StepModel,
    context: Sequence[int],
    rows: int,
    max_tokens: int,
    *,
    labels: Tensor | None = None,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    stop_id: int | None = None,
    banned: Sequence[int] = (),
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """``rows`` continuations of ``context`` (token ids, at least one), each at most ``max_tokens``
    ids long, drawn side by side in one batch; a row ends early after ``stop_id`` (which is kept).

    The context runs through the model in one call, then one step per generated token. ``banned``
    ids (padding, ``<unk>``, ``<bos>``) are never drawn. ``labels`` (``rows``) condition the model.
    """
    if not context:
        raise ValueError("sampling needs a context of at least one token (a start marker)")
    device = next(model.parameters()).device  # type: ignore[attr-defined]
    inputs = torch.tensor([list(context)] * rows, dtype=torch.long, device=device)  # rows x T0
    logits, state = model.logits(inputs, model.initial_state(rows, labels), labels)
    last = logits[:, -1]  # rows x V
    ban = torch.tensor(list(banned), dtype=torch.long, device=device)
    generated = torch.empty(rows, max_tokens, dtype=torch.long, device=device)  # rows x N
    running = torch.ones(rows, dtype=torch.bool, device=device)
    lengths = torch.full((rows,), max_tokens, dtype=torch.long, device=device)
    for step in range(max_tokens):
        if ban.numel():
            last = last.index_fill(-1, ban, float("-inf"))
        token = next_tokens(last, temperature, top_k, top_p, generator)  # rows
        generated[:, step] = token
        if stop_id is not None:
            ended = running & (token == stop_id)
            lengths[ended] = step + 1
            running &= ~ended
            if not running.any():
                break
        if step + 1 < max_tokens:
            logits, state = model.logits(token.unsqueeze(1), state, labels)  # rows x 1 x V
            last = logits[:, 0]
    return [row[:length].tolist() for row, length in zip(generated, lengths.tolist(), strict=True)]
