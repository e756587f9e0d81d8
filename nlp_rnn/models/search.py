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
it has finished ``n_best`` hypotheses (the number it returns) and its best alive path, scored as
if it ended at the next step, is no better than the worst of those ``n_best``
(:func:`_cannot_improve`): nothing the beam still holds could then enter the output. Stopping at
the first k finished, as fairseq does, can return a worse hypothesis than the one the beam still
holds; waiting for k finished when fewer are returned only costs steps. Finished hypotheses rank by
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
import torch.nn.functional as F
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
    log_probs: Tensor,
    cap_rows: Tensor | None,
    model: Seq2Seq,
    t: int,
    history: Tensor | None,
    constraints: Constraints,
) -> Tensor:
    """``log_probs`` (N x V, changed in place and returned) with padding and BOS banned everywhere,
    every token but EOS banned in the rows ``cap_rows`` (a 1-d long tensor: the rows at their
    length cap; None when there are none), and elsewhere what ``constraints`` forbid given the
    tokens so far: ``t`` of them per row, ``history`` (N x t; only n-gram blocking reads it, so
    searches pass None without it).

    Bans columns and rows in place rather than building an N x V mask: the step's other work on
    N x V numbers is the log-softmax and a top-k.
    """
    for token in (model.pad_id, model.bos_id, *constraints.banned_ids):  # no index tensor to copy to a GPU
        log_probs[:, token] = float("-inf")
    n = constraints.no_repeat_ngram_size
    if n > 0 and t >= n:
        assert history is not None
        log_probs.masked_fill_(_repeated_ngrams(history, n, log_probs.size(-1)), float("-inf"))
    eos_at_cap = None if cap_rows is None else log_probs[cap_rows, model.eos_id]  # copied: C
    if t < constraints.min_length:
        log_probs[:, model.eos_id] = float("-inf")
    if cap_rows is not None:
        log_probs.index_fill_(0, cap_rows, float("-inf"))
        log_probs[cap_rows, model.eos_id] = eos_at_cap
    return log_probs  # N x V


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
    next_cap = int(caps.min())  # the first step at which a running sentence reaches its cap
    prev = torch.full((batch,), model.bos_id, dtype=torch.long, device=src.device)  # R
    for t in range(steps):
        log_probs, state, weights = model.decode_step(prev, state)  # R x V, R x S
        cap_rows = (caps[running] == t).nonzero().squeeze(1) if t == next_cap else None
        history = out.tokens[running, 0, :t] if constraints.no_repeat_ngram_size else None  # R x t
        log_probs = _restrict(log_probs, cap_rows, model, t, history, constraints)
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
            next_cap = int(caps[running].min())
    out = out._replace(scores=out.log_probs)
    return [sentence[0] for sentence in _hypotheses(out, src_lengths)]


def _extend(
    alive: _Paths, log_probs: Tensor, weights: Tensor, t: int, eos_id: int, k: int
) -> tuple[_Paths, Tensor]:
    """The 2k best one-token extensions of each sentence's w alive paths, best first.

    ``log_probs`` (R x w x V) and ``weights`` (R x w x S) are the step's outputs per alive path
    (w = k, or 1 at the first step). Returns the candidates (R x 2k; scores are log-probabilities;
    score -inf where fewer than 2k extensions exist) and the alive path each extends.

    The 2k best of a sentence's w x V extensions are among each path's 2k best tokens (a path's
    log-probability adds the same amount to all of its extensions), so the top-k runs per path
    over V and then per sentence over w x 2k; no R x w x V sum is written.
    """
    sentences, width, vocab = log_probs.shape
    per_path = min(2 * k, vocab)
    best, best_tokens = log_probs.topk(per_path, dim=-1)  # R x w x m
    totals = (alive.log_probs.unsqueeze(-1) + best).view(sentences, width * per_path)  # R x w*m
    scores, flat = totals.topk(min(2 * k, width * per_path), dim=1)  # R x 2k (or fewer)
    if scores.size(1) < 2 * k:  # the first step over a vocabulary smaller than 2k
        missing = 2 * k - scores.size(1)
        scores, flat = F.pad(scores, (0, missing), value=float("-inf")), F.pad(flat, (0, missing))
    beams, tokens = flat // per_path, best_tokens.view(sentences, width * per_path).gather(1, flat)  # R x 2k
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
    """The sentences beam search still runs: R of them, k beams each (w = 1 before the first step)."""

    sentences: Tensor  # R: index into the batch
    found: Tensor  # R: finished hypotheses so far
    alive: _Paths  # R x w
    pool: _Paths  # R x k: the best finished hypotheses, best first
    state: DecoderState  # R*w rows, sentence-major
    prev: Tensor  # R*w: the alive paths' last tokens

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
    model: Seq2Seq,
    run: _Running,
    k: int,
    cap_rows: Tensor | None,
    t: int,
    length_penalty: float,
    constraints: Constraints,
) -> _Running:
    """Extend every alive path by one token; finish those that end in EOS among the best k.

    ``run`` holds w alive paths per sentence: k, or 1 at the first step (then the state has one
    row per sentence, and the step's choice of k paths also repeats the source rows into beams).
    ``cap_rows`` (1-d, or None for none) are the running sentences at their length cap.
    """
    sentences, width = run.alive.scores.shape
    log_probs, state, weights = model.decode_step(run.prev, run.state)  # R*w x V, R*w x S
    history = (
        run.alive.tokens[:, :, :t].reshape(sentences * width, t) if constraints.no_repeat_ngram_size else None
    )  # R*w x t
    if cap_rows is not None:
        beam = torch.arange(width, device=cap_rows.device)  # w
        cap_rows = (cap_rows.unsqueeze(1) * width + beam).flatten()  # C*w
    log_probs = _restrict(log_probs, cap_rows, model, t, history, constraints)
    log_probs, weights = log_probs.view(sentences, width, -1), weights.view(sentences, width, -1)
    candidates, beams = _extend(run.alive, log_probs, weights, t, model.eos_id, k)  # R x 2k
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
    first_rows = torch.arange(sentences, device=ended.device) * width  # R
    rows = first_rows.unsqueeze(1) + beams.gather(1, order)  # R x k
    # beams move among the rows of one sentence; at the first step the source rows are repeated
    state = state.index_select(rows.flatten()) if width < k else state.reorder(rows.flatten())
    return _Running(run.sentences, found, alive, pool, state, alive.tokens[:, :, t].flatten())


def _cannot_improve(run: _Running, length: int, length_penalty: float, n_best: int) -> Tensor:
    """R: whether the best alive path of a sentence, scored as if it ended at the next step with
    ``length`` tokens (EOS included), is no better than the ``n_best``-th pooled hypothesis (the
    worst one the search returns), so that nothing the beam still holds could enter the output.

    Exact without a length penalty (a path's log-probability only falls, so it can never catch
    up); with one it is the usual heuristic (Hugging Face's ``early_stopping=False``), since a
    longer path divides by a larger penalty. A bound at the length cap would be exact there too,
    but it keeps nearly every sentence running to its cap, several times slower.
    """
    best_alive = run.alive.log_probs.max(dim=1).values  # R
    bound = best_alive / gnmt_length_penalty(length, length_penalty)  # R
    return bound <= run.pool.scores[:, n_best - 1]  # R


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
    state = _encode(model, src, src_lengths, src_extended)  # B rows: the first step runs one path each

    def empty(width: int) -> _Paths:
        return _empty_paths(batch, width, steps, source, return_attention, model.pad_id, state.source.memory)

    alive, out = empty(1), empty(n_best)
    alive.log_probs.zero_()  # one empty path per sentence; k copies of it would only repeat its work
    found = torch.zeros(batch, dtype=torch.long, device=src.device)  # B
    prev = torch.full((batch,), model.bos_id, dtype=torch.long, device=src.device)  # B
    run = _Running(sentences, found, alive, empty(k), state, prev)
    next_cap = int(caps.min())  # the first step at which a running sentence reaches its cap
    for t in range(steps):
        at_cap = caps[run.sentences] == t  # R
        cap_rows = at_cap.nonzero().squeeze(1) if t == next_cap else None
        run = _beam_step(model, run, k, cap_rows, t, length_penalty, constraints)
        done = at_cap | ((run.found >= n_best) & _cannot_improve(run, t + 2, length_penalty, n_best))
        if bool(done.any()):
            best = run.pool.rows(done.nonzero().squeeze(1)).map(lambda part: part[:, :n_best])
            out.write(run.sentences[done], best)
            if bool(done.all()):
                break
            run = run.keep((~done).nonzero().squeeze(1))
            next_cap = int(caps[run.sentences].min())
    return _hypotheses(out, src_lengths)
