"""An interpolated Kneser-Ney n-gram language model over token ids: the count-based baseline that
the recurrent language model is measured against.

The estimate is Chen and Goodman's (1999) modified Kneser-Ney, interpolated at every order::

    P_k(w | h) = (max(a_k(h w) - D_k(a_k(h w)), 0) + gamma_k(h) * P_{k-1}(w | h')) / sum_v a_k(h v)
    gamma_k(h) = D_k1 N_1(h) + D_k2 N_2(h) + D_k3 N_3+(h)

where ``h'`` drops the oldest token of ``h``, ``a_n`` are raw counts at the highest order ``n`` and
``a_k`` (k < n) continuation counts (how many distinct tokens precede the k-gram), ``N_r(h)`` counts
the tokens ``v`` with ``a_k(h v) = r`` (``N_3+``: three or more), and the three discounts of an order
come from its count-of-counts (``Y = n_1 / (n_1 + 2 n_2)``, ``D_r = r - (r + 1) Y n_(r+1) / n_r``).
A context never seen at order k (or seen only in last position) leaves ``P_{k-1}`` as it is, and
``P_0`` is uniform over the vocabulary, so every token id gets a positive probability and each
distribution sums to one over the vocabulary. ``discount=0.75`` gives the classic single discount.

Counting is NumPy, not dicts of tuples: a k-gram is one int64 key, ``rank of its (k-1)-gram prefix
among the distinct (k-1)-grams * V + its last token``, so the keys of an order are one sorted array
(k-grams sharing a prefix are contiguous) and lookups are ``searchsorted``. Fitting 5M tokens takes
seconds and a few arrays of int64 per order.

A sequence may hold token ids that are never predicted (``skip``: the ``<bos>`` padding before each
document): they serve as context only, so n-grams ending in them are not counted or scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nlp_rnn.errors import NlpRnnError


@dataclass(frozen=True)
class _Order:
    """The statistics of one order k: its k-grams and, per (k-1)-gram context, the sums."""

    keys: np.ndarray  # distinct k-grams, sorted int64 keys
    counts: np.ndarray  # float64 a_k of each key: raw counts (k = n) or continuation counts
    totals: np.ndarray  # float64 per context (rank in the previous order's keys): sum of a_k
    gammas: np.ndarray  # float64 per context: D1 N1 + D2 N2 + D3 N3+
    discounts: tuple[float, float, float]


class KneserNey:
    """Interpolated (modified) Kneser-Ney of order ``order`` over ids ``0 .. vocab_size - 1``.

    ``discount``: one fixed discount for every count (``None``: three per order, estimated from the
    count-of-counts as Chen and Goodman do).
    """

    def __init__(self, order: int, vocab_size: int, discount: float | None = None) -> None:
        if order < 1:
            raise NlpRnnError(f"the n-gram order must be 1 or more, got {order}")
        if vocab_size < 1:
            raise NlpRnnError(f"the vocabulary must hold at least one token, got {vocab_size}")
        if discount is not None and not 0 < discount < 1:
            raise NlpRnnError(f"a fixed discount must lie in (0, 1), got {discount}")
        self.order, self.vocab_size, self.discount = order, vocab_size, discount
        self._orders: list[_Order] = []  # index k - 1 for order k

    @property
    def discounts(self) -> list[tuple[float, float, float]]:
        """``(D1, D2, D3+)`` of each order, lowest first."""
        return [order.discounts for order in self._orders]

    def fit(self, ids: np.ndarray, skip: int | None = None) -> KneserNey:
        """Count the n-grams of the id sequence ``ids``; ids equal to ``skip`` are context only."""
        ids = self._checked(ids)
        if self._targets(ids, skip).size == 0:
            raise NlpRnnError("the n-gram model has no training tokens")
        counted = ids != skip if skip is not None else np.ones(len(ids), dtype=bool)
        v = self.vocab_size
        ranks = None  # rank of the (k-1)-gram starting at each position
        raw_counts: list[np.ndarray] = []
        continuation: list[np.ndarray] = []
        keys_of: list[np.ndarray] = []
        for k in range(1, self.order + 1):
            positions = len(ids) - k + 1
            if positions <= 0:
                break
            last = ids[k - 1 :]  # the last token of the k-gram at each position
            keys = last if ranks is None else ranks[:positions] * v + last
            distinct, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            raw_counts.append(np.bincount(inverse[counted[k - 1 :]], minlength=len(distinct)))
            if ranks is not None:  # continuation counts of the (k-1)-grams: their distinct left neighbours
                suffixes = ranks[first + 1]  # the (k-1)-gram that each distinct k-gram ends with
                seen = raw_counts[-1] > 0
                continuation.append(np.bincount(suffixes[seen], minlength=len(keys_of[-1])))
            keys_of.append(distinct)
            ranks = inverse.astype(np.int64)
        self._orders = []
        for k, keys in enumerate(keys_of, start=1):
            counts = raw_counts[k - 1] if k == len(keys_of) else continuation[k - 1]
            self._orders.append(self._statistics(k, keys, counts.astype(np.float64)))
        return self

    def _statistics(self, k: int, keys: np.ndarray, counts: np.ndarray) -> _Order:
        discounts = (self.discount,) * 3 if self.discount is not None else _modified_discounts(counts)
        contexts = keys // self.vocab_size if k > 1 else np.zeros(len(keys), dtype=np.int64)
        size = len(self._orders[-1].keys) if k > 1 else 1
        totals = np.bincount(contexts, weights=counts, minlength=size)
        bands = (counts == 1, counts == 2, counts >= 3)
        gammas = sum(
            d * np.bincount(contexts, weights=band, minlength=size)
            for d, band in zip(discounts, bands, strict=True)
        )
        return _Order(keys, counts, totals, np.asarray(gammas, dtype=np.float64), discounts)

    # --- scoring ----------------------------------------------------------------------------------

    def log_probs(self, ids: np.ndarray, skip: int | None = None) -> np.ndarray:
        """Natural-log probability of every scored token of ``ids`` (each position from 1 on whose
        id is not ``skip``), each given the up to ``order - 1`` ids before it."""
        self._require_fit()
        ids = self._checked(ids)
        targets = self._targets(ids, skip)  # positions scored
        v = self.vocab_size
        ranks = [np.zeros(len(ids), dtype=np.int64)]  # ranks[k][i]: k-gram at i (k = 0: the empty one)
        for k, order in enumerate(self._orders[: self.order - 1], start=1):
            previous = ranks[-1][: len(ids) - k + 1]
            query = ids[k - 1 :] if k == 1 else previous * v + ids[k - 1 :]
            rank = _find(order.keys, query)
            ranks.append(np.where(previous >= 0, rank, -1) if k > 1 else rank)
        contexts = []
        for k in range(1, len(self._orders) + 1):
            start = targets - (k - 1)  # where the (k-1)-token context begins
            rank = np.full(len(targets), -1, dtype=np.int64)
            inside = start >= 0
            rank[inside] = ranks[k - 1][start[inside]]
            contexts.append(rank)
        return np.log(self._interpolate(contexts, ids[targets]))

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """P(w | context) for every id w (``vocab_size`` values that sum to one)."""
        self._require_fit()
        history = [int(token) for token in context][-(self.order - 1) :] if self.order > 1 else []
        targets = np.arange(self.vocab_size, dtype=np.int64)
        contexts = [np.zeros(self.vocab_size, dtype=np.int64)]
        for k in range(2, len(self._orders) + 1):
            rank = self._context_rank(history[len(history) - (k - 1) :]) if k - 1 <= len(history) else -1
            contexts.append(np.full(self.vocab_size, rank, dtype=np.int64))
        return self._interpolate(contexts, targets)

    def _context_rank(self, context: Sequence[int]) -> int:
        """Rank of the (k-1)-gram ``context`` among the distinct (k-1)-grams, or -1."""
        rank = -1
        for k, token in enumerate(context, start=1):
            query = token if k == 1 else rank * self.vocab_size + token
            rank = int(_find(self._orders[k - 1].keys, np.array([query], dtype=np.int64))[0])
            if rank < 0:
                return -1
        return rank

    def _interpolate(self, contexts: list[np.ndarray], targets: np.ndarray) -> np.ndarray:
        """P(target | context) from the uniform distribution up through every order whose context
        was seen; ``contexts[k-1]`` holds each target's context rank at order k (-1: unseen)."""
        p = np.full(len(targets), 1.0 / self.vocab_size)
        for k, (order, rank) in enumerate(zip(self._orders, contexts, strict=True), start=1):
            seen = rank >= 0
            if not seen.any():  # longer contexts extend these, so none of them was seen either
                break
            seen[seen] = order.totals[rank[seen]] > 0  # a context never followed: P_k = P_(k-1)
            r, w = rank[seen], targets[seen]
            found = _find(order.keys, r * self.vocab_size + w if k > 1 else w)
            counts = np.where(found >= 0, order.counts[np.maximum(found, 0)], 0.0)
            discount = np.array((0.0, *order.discounts))[np.minimum(counts, 3).astype(np.int64)]
            p[seen] = (np.maximum(counts - discount, 0.0) + order.gammas[r] * p[seen]) / order.totals[r]
        return p

    def perplexity(self, ids: np.ndarray, skip: int | None = None) -> tuple[float, int]:
        """``(total negative log-likelihood in nats, tokens scored)`` of ``ids``."""
        log_probs = self.log_probs(ids, skip)
        return float(-log_probs.sum()), int(log_probs.size)

    # --- checks -----------------------------------------------------------------------------------

    def _checked(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise NlpRnnError(f"expected a 1-D array of token ids, got {ids.dtype} of shape {ids.shape}")
        ids = ids.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise NlpRnnError(f"token ids must lie in 0..{self.vocab_size - 1}")
        return ids

    @staticmethod
    def _targets(ids: np.ndarray, skip: int | None) -> np.ndarray:
        positions = np.arange(1, len(ids))
        return positions if skip is None else positions[ids[1:] != skip]

    def _require_fit(self) -> None:
        if not self._orders:
            raise NlpRnnError("the n-gram model is not fitted; call fit first")


def _find(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Index of each query in the sorted ``keys``, or -1 where it is absent."""
    index = np.searchsorted(keys, query)
    index = np.minimum(index, len(keys) - 1)
    return np.where(keys[index] == query, index, -1)


def _modified_discounts(counts: np.ndarray) -> tuple[float, float, float]:
    """Chen and Goodman's D1, D2, D3+ from the count-of-counts; a single Ney discount
    ``n1 / (n1 + 2 n2)`` where the corpus is too small to give all four count-of-counts."""
    n1, n2, n3, n4 = (int(np.count_nonzero(counts == r)) for r in (1, 2, 3, 4))
    if min(n1, n2, n3, n4) == 0:
        single = n1 / (n1 + 2 * n2) if n1 and n2 else 0.75
        return (single, single, single)
    y = n1 / (n1 + 2 * n2)
    values = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    return tuple(min(max(d, 0.0), float(r)) for r, d in enumerate(values, start=1))  # type: ignore[return-value]
