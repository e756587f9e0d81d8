"""Greedy and beam search over a :class:`~nlp_rnn.models.seq2seq.Seq2Seq`, batched over sentences and beams.

Both searches run one :meth:`~nlp_rnn.models.seq2seq.Seq2Seq.decode_step` per output position for
all running sentences (and all their beams) at once; Python loops only over time steps. A sentence
that is done leaves the running batch (its rows are dropped from the decoder state with
``index_select``), so the work per step shrinks as sentences finish.

Lengths: sentence ``i`` may produce at most ``floor(max_len_a * src_len_i + max_len_b)`` tokens
(EOS not counted), from its own source length; at that position only EOS is allowed, so every
hypothesis ends with EOS and its score includes EOS's log-probability.

Beam search (``beam_size`` k) keeps k alive hypotheses per sentence. Each step takes the 2k best
extensions; those among the first k that end in EOS are finished (moved to the sentence's pool of
the k best finished hypotheses), and the first k that do not end in EOS stay alive, so a finished
hypothesis never takes an alive slot. A sentence is done once it reaches its length cap, or once
it has finished k hypotheses and its best alive path, scored as if it ended at the next step, is
no better than the worst of them (:func:`_cannot_improve`; stopping at the first k finished, as
fairseq does, can return a worse hypothesis than the one the beam still holds). Finished hypotheses rank by
``log_prob / lp(length)`` with GNMT's length penalty ``lp(length) = ((5 + length) / 6) ** alpha``
(Wu et al. 2016), where ``length`` counts the output tokens *including* EOS and ``alpha`` is
``length_penalty``; ``alpha = 0`` ranks by the plain log-probability.

:class:`Constraints` add what summarization needs: a minimum length (EOS banned until then) and
blocking repeated n-grams (a token that would repeat an n-gram of the output so far is banned),
both computed on tensors for all rows at once. A copying model
(:class:`~nlp_rnn.models.pointer_generator.PointerGenerator`) takes the sources' extended ids
(``src_extended``) and scores the extended vocabulary; the searches need nothing else for it.

The searches change no module's mode: put the model in eval mode first (dropout off), or the
output depends on the batch it was decoded in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from nlp_rnn.models.seq2seq import DecoderState, Seq2Seq


class Hypothesis(NamedTuple):
    """One output sentence of a search."""

    tokens: list[int]  # target ids, without BOS and EOS
    score: float  # the ranking score: log_prob / lp(len(tokens) + 1) (greedy: log_prob)
    log_prob: float  # the model's log-probability of tokens + EOS
    attention: Tensor | None  # (len(tokens) + 1) x src_len, the last row at EOS; None unless asked


class _Paths(NamedTuple):
    """``m`` token paths for each of ``R`` sentences, as tensors (``R x m x ...``)."""

    scores: Tensor  # R x m: ranking scores (alive paths: the log-probability)
    log_probs: Tensor  # R x m
    lengths: Tensor  # R x m: tokens so far, EOS excluded
    tokens: Tensor  # R x m x T, padded
    attention: Tensor | None  # R x m x T x S

    def map(self, fn: Callable[[Tensor], Tensor]) -> _Paths:
        """``fn`` applied to every tensor."""
        return _Paths(*(None if part is None else fn(part) for part in self))

    def rows(self, index: Tensor) -> _Paths:
        """Sentences ``index`` (a 1-d long tensor)."""
        return self.map(lambda part: part.index_select(0, index))

    def gather(self, index: Tensor) -> _Paths:
        """Per sentence the paths ``index`` (R x n) picks."""
        return self.map(lambda part: part.gather(1, _expand_like(index, part)))

    def cat(self, other: _Paths) -> _Paths:
        """The paths of ``self`` followed by those of ``other``, per sentence."""
        return _Paths(
            *(None if a is None else torch.cat([a, b], dim=1) for a, b in zip(self, other, strict=True))
        )

    def write(self, sentences: Tensor, other: _Paths) -> None:
        """Copy ``other``'s rows into rows ``sentences`` of ``self``, in place."""
        for target, source in zip(self, other, strict=True):
            if target is not None:
                target.index_copy_(0, sentences, source)


def _expand_like(index: Tensor, part: Tensor) -> Tensor:
    """An ``R x n`` index expanded over the trailing dimensions of ``part`` (R x m x ...)."""
    shape = index.shape + (1,) * (part.dim() - 2)
    return index.view(shape).expand(*index.shape, *part.shape[2:])


def _empty_paths(
    sentences: int, width: int, steps: int, source: int, with_attention: bool, pad_id: int, like: Tensor
) -> _Paths:
    """``width`` paths per sentence, none of them real yet (score -inf, no tokens)."""
    scores = like.new_full((sentences, width), float("-inf"))  # R x m
    return _Paths(
        scores=scores,
        log_probs=scores.clone(),
        lengths=torch.zeros(sentences, width, dtype=torch.long, device=like.device),
        tokens=torch.full((sentences, width, steps), pad_id, dtype=torch.long, device=like.device),
        attention=like.new_zeros(sentences, width, steps, source) if with_attention else None,
    )


def max_output_lengths(src_lengths: Tensor, max_len_a: float, max_len_b: float) -> Tensor:
    """Per sentence the most tokens it may produce (EOS not counted): ``floor(a * src_len + b)``, >= 0."""
    caps = torch.floor(max_len_a * src_lengths.double() + max_len_b)  # B
    return caps.long().clamp(min=0)


def gnmt_length_penalty(length: int, alpha: float) -> float:
    """GNMT's ``((5 + length) / 6) ** alpha``; ``length`` counts the tokens including EOS."""
    return ((5 + length) / 6) ** alpha


class Constraints(NamedTuple):
    """What a search may not produce, on top of the length caps."""

    min_length: int = 0  # EOS is banned before this many tokens (unless the length cap comes first)
    no_repeat_ngram_size: int = 0  # no n-gram of this size twice in one output (0: off)
    banned_ids: tuple[int, ...] = ()  # never produced (a summarizer bans <unk>)


NO_CONSTRAINTS = Constraints()


def _restrict(
    log_probs: Tensor, at_cap: Tensor, model: Seq2Seq, history: Tensor, constraints: Constraints
) -> Tensor:
    """``log_probs`` (N x V) with padding and BOS banned everywhere, every token but EOS banned in
    the rows where ``at_cap`` (N) is true, and elsewhere what ``constraints`` forbid given the
    tokens so far, ``history`` (N x t)."""
    vocab = torch.arange(log_probs.size(-1), device=log_probs.device)  # V
    never = (vocab == model.pad_id) | (vocab == model.bos_id)  # V
    for token in constraints.banned_ids:
        never = never | (vocab == token)
    banned = never | (at_cap.unsqueeze(-1) & (vocab != model.eos_id))  # N x V
    steps = history.size(1)
    if steps < constraints.min_length:
        banned = banned | ((vocab == model.eos_id) & ~at_cap.unsqueeze(-1))
    n = constraints.no_repeat_ngram_size
    if n > 0 and steps >= n:
        banned = banned | _repeated_ngrams(history, n, log_probs.size(-1))
    return log_probs.masked_fill(banned, float("-inf"))  # N x V


def _repeated_ngrams(history: Tensor, n: int, vocab: int) -> Tensor:
    """N x V: the tokens that would end an ``n``-gram already in ``history`` (N x t, t >= n)."""
    windows = history.unfold(1, n, 1)  # N x (t-n+1) x n: every n-gram so far
    prefix = history[:, history.size(1) - (n - 1) :].unsqueeze(1)  # N x 1 x n-1: the last n-1 tokens
    repeats = (windows[:, :, :-1] == prefix).all(-1)  # N x (t-n+1)
    counts = torch.zeros(history.size(0), vocab, dtype=torch.long, device=history.device)
    return counts.scatter_add_(1, windows[:, :, -1], repeats.long()) > 0  # N x V


def _encode(model: Seq2Seq, src: Tensor, src_lengths: Tensor, src_extended: Tensor | None) -> DecoderState:
    """The model's initial state; a copying model also gets the sources' extended ids."""
    if src_extended is None:
        return model.encode(src, src_lengths)
    return model.encode(src, src_lengths, src_extended)  # type: ignore[call-arg]


def _hypotheses(paths: _Paths, src_lengths: Tensor) -> list[list[Hypothesis]]:
    """Per sentence its real paths (finite score) as :class:`Hypothesis`, in the paths' order."""
    scores, log_probs = paths.scores.tolist(), paths.log_probs.tolist()
    lengths, tokens, sources = paths.lengths.tolist(), paths.tokens.tolist(), src_lengths.tolist()
    results = []
    for i, source in enumerate(sources):
        sentence = []
        for j, score in enumerate(scores[i]):
            if math.isinf(score):
                continue
            length = lengths[i][j]
            attention = None if paths.attention is None else paths.attention[i, j, : length + 1, :source]
            sentence.append(Hypothesis(tokens[i][j][:length], score, log_probs[i][j], attention))
        results.append(sentence)
    return results


@torch.inference_mode()
def greedy_search(
    model: Seq2Seq,
    src: Tensor,
    src_lengths: Tensor,
    max_len_a: float = 1.5,
    max_len_b: float = 10,
    return_attention: bool = False,
    constraints: Constraints = NO_CONSTRAINTS,
    src_extended: Tensor | None = None,
) -> list[Hypothesis]:
    """The most probable next token at every step, for each right-padded source of ``src`` (B x S).

    Returns one hypothesis per sentence, in order; its score is its log-probability.
    ``src_extended`` (B x S) is for a copying model: the sources in its extended vocabulary.
    """
    src_lengths = src_lengths.to(src.device)
    batch, source = src.shape
    caps = max_output_lengths(src_lengths, max_len_a, max_len_b)  # B
    steps = int(caps.max()) + 1
    state = _encode(model, src, src_lengths, src_extended)
    out = _empty_paths(batch, 1, steps, source, return_attention, model.pad_id, state.source.memory)
    out.log_probs.zero_()
    running = torch.arange(batch, device=src.device)  # R: the running rows' sentences
    prev = torch.full((batch,), model.bos_id, dtype=torch.long, device=src.device)  # R
    for t in range(steps):
        log_probs, state, weights = model.decode_step(prev, state)  # R x V, R x S
        log_probs = _restrict(log_probs, caps[running] == t, model, out.tokens[running, 0, :t], constraints)
        best, prev = log_probs.max(dim=-1)  # R, R
        out.tokens[running, 0, t] = prev
        out.log_probs[running, 0] += best
        if out.attention is not None:
            out.attention[running, 0, t] = weights
        ended = prev == model.eos_id  # R
        if bool(ended.any()):
            out.lengths[running[ended], 0] = t
            keep = (~ended).nonzero().squeeze(1)  # R'
            if keep.numel() == 0:
                break
            running, prev, state = running[keep], prev[keep], state.index_select(keep)
    out = out._replace(scores=out.log_probs)
    return [sentence[0] for sentence in _hypotheses(out, src_lengths)]


def _extend(alive: _Paths, log_probs: Tensor, weights: Tensor, t: int, eos_id: int) -> tuple[_Paths, Tensor]:
    """The 2k best one-token extensions of each sentence's k alive paths, best first.

    ``log_probs`` (R x k x V) and ``weights`` (R x k x S) are the step's outputs per alive path.
    Returns the candidates (R x 2k; scores are log-probabilities) and the alive path each extends.
    """
    sentences, k, vocab = log_probs.shape
    totals = alive.log_probs.unsqueeze(-1) + log_probs  # R x k x V
    scores, flat = totals.view(sentences, k * vocab).topk(2 * k, dim=1)  # R x 2k
    beams, tokens = flat // vocab, flat % vocab  # R x 2k
    paths = alive.gather(beams)  # R x 2k, the histories before this step
    paths.tokens[:, :, t] = tokens
    if paths.attention is not None:
        paths.attention[:, :, t] = weights.gather(1, _expand_like(beams, weights))  # R x 2k x S
    lengths = paths.lengths + (tokens != eos_id).long()  # R x 2k
    return paths._replace(scores=scores, log_probs=scores, lengths=lengths), beams


def _finish(pool: _Paths, candidates: _Paths, finished: Tensor, penalty: float) -> _Paths:
    """The k best of the pool and the ``finished`` candidates (R x 2k mask), scored with ``penalty``."""
    k = pool.scores.size(1)
    scores = torch.where(finished, candidates.log_probs / penalty, float("-inf"))  # R x 2k
    both = pool.cat(candidates._replace(scores=scores))  # R x 3k
    return both.gather(both.scores.topk(k, dim=1).indices)  # R x k, best first


class _Running(NamedTuple):
    """The sentences beam search still runs: R of them, k beams each."""

    sentences: Tensor  # R: index into the batch
    found: Tensor  # R: finished hypotheses so far
    alive: _Paths  # R x k
    pool: _Paths  # R x k: the best finished hypotheses, best first
    state: DecoderState  # R*k rows, sentence-major
    prev: Tensor  # R*k: the alive paths' last tokens

    def keep(self, kept: Tensor) -> _Running:
        """Only the sentences ``kept`` (a 1-d long tensor)."""
        k = self.alive.scores.size(1)
        beam_rows = (kept.unsqueeze(1) * k + torch.arange(k, device=kept.device)).flatten()  # R'*k
        return _Running(
            self.sentences[kept],
            self.found[kept],
            self.alive.rows(kept),
            self.pool.rows(kept),
            self.state.index_select(beam_rows),
            self.prev[beam_rows],
        )


def _beam_step(
    model: Seq2Seq, run: _Running, at_cap: Tensor, t: int, length_penalty: float, constraints: Constraints
) -> _Running:
    """Extend every alive path by one token; finish those that end in EOS among the best k."""
    sentences, k = run.alive.scores.shape
    log_probs, state, weights = model.decode_step(run.prev, run.state)  # R*k x V, R*k x S
    history = run.alive.tokens[:, :, :t].reshape(sentences * k, t)  # R*k x t
    log_probs = _restrict(log_probs, at_cap.repeat_interleave(k), model, history, constraints)
    candidates, beams = _extend(
        run.alive, log_probs.view(sentences, k, -1), weights.view(sentences, k, -1), t, model.eos_id
    )  # R x 2k
    ended = candidates.tokens[:, :, t] == model.eos_id  # R x 2k
    first_k = torch.arange(2 * k, device=ended.device) < k  # 2k
    finished = ended & first_k & candidates.log_probs.isfinite()  # R x 2k
    pool, found = run.pool, run.found
    if bool(finished.any()):
        pool = _finish(pool, candidates, finished, gnmt_length_penalty(t + 1, length_penalty))
        found = found + finished.sum(dim=1)
    # Each path ends in EOS at most once, so at least k of the 2k candidates go on.
    rank = torch.arange(2 * k, device=ended.device) + ended * 2 * k  # R x 2k, EOS last
    order = rank.topk(k, dim=1, largest=False).indices  # R x k
    alive = candidates.gather(order)  # R x k
    rows = (torch.arange(sentences, device=ended.device) * k).unsqueeze(1) + beams.gather(1, order)  # R x k
    return _Running(
        run.sentences, found, alive, pool, state.reorder(rows.flatten()), alive.tokens[:, :, t].flatten()
    )


def _cannot_improve(run: _Running, length: int, length_penalty: float) -> Tensor:
    """R: whether the best alive path of a sentence, scored as if it ended at the next step with
    ``length`` tokens (EOS included), is no better than the worst pooled hypothesis.

    Exact without a length penalty (a path's log-probability only falls, so it can never catch
    up); with one it is the usual heuristic (Hugging Face's ``early_stopping=False``), since a
    longer path divides by a larger penalty. A bound at the length cap would be exact there too,
    but it keeps nearly every sentence running to its cap, several times slower.
    """
    best_alive = run.alive.log_probs.max(dim=1).values  # R
    return best_alive / gnmt_length_penalty(length, length_penalty) <= run.pool.scores[:, -1]  # R


@torch.inference_mode()
def beam_search(
    model: Seq2Seq,
    src: Tensor,
    src_lengths: Tensor,
    beam_size: int = 5,
    length_penalty: float = 1.0,
    n_best: int = 1,
    max_len_a: float = 1.5,
    max_len_b: float = 10,
    return_attention: bool = False,
    constraints: Constraints = NO_CONSTRAINTS,
    src_extended: Tensor | None = None,
) -> list[list[Hypothesis]]:
    """Beam search for each right-padded source of ``src`` (B x S); see the module docstring.

    Returns per sentence its ``n_best`` best finished hypotheses, best first (fewer only when the
    vocabulary and the constraints leave fewer paths than the beam). ``src_extended`` as in
    :func:`greedy_search`.
    """
    if beam_size < 1 or not 1 <= n_best <= beam_size:
        raise ValueError(f"need beam_size >= 1 and 1 <= n_best <= beam_size, got {beam_size} and {n_best}")
    k = beam_size
    src_lengths = src_lengths.to(src.device)
    batch, source = src.shape
    caps = max_output_lengths(src_lengths, max_len_a, max_len_b)  # B
    steps = int(caps.max()) + 1
    sentences = torch.arange(batch, device=src.device)  # B
    state = _encode(model, src, src_lengths, src_extended).index_select(sentences.repeat_interleave(k))

    def empty(width: int) -> _Paths:
        return _empty_paths(batch, width, steps, source, return_attention, model.pad_id, state.source.memory)

    alive, out = empty(k), empty(n_best)
    alive.log_probs[:, 0] = 0.0  # one real path to start; the other beams would only repeat it
    found = torch.zeros(batch, dtype=torch.long, device=src.device)  # B
    prev = torch.full((batch * k,), model.bos_id, dtype=torch.long, device=src.device)  # B*k
    run = _Running(sentences, found, alive, empty(k), state, prev)
    for t in range(steps):
        at_cap = caps[run.sentences] == t  # R
        run = _beam_step(model, run, at_cap, t, length_penalty, constraints)
        done = at_cap | ((run.found >= k) & _cannot_improve(run, t + 2, length_penalty))
        if bool(done.any()):
            best = run.pool.rows(done.nonzero().squeeze(1)).map(lambda part: part[:, :n_best])
            out.write(run.sentences[done], best)
            if bool(done.all()):
                break
            run = run.keep((~done).nonzero().squeeze(1))
    return _hypotheses(out, src_lengths)
