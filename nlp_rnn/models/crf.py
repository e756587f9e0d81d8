"""A linear-chain conditional random field over per-word tag scores (Lafferty et al. 2001).

A softmax tagger picks each word's tag on its own; a CRF scores whole tag sequences, the sum of
the words' scores (``emissions``, from the encoder) and of a learned score for each pair of
neighbouring tags (``transitions``) and for the first and last tag, and decodes the best
sequence with the Viterbi algorithm (Huang et al. 2015, Lample et al. 2016).

Both algorithms are batched over sentences: one tensor step per position (the forward
algorithm's a B x K by K x K matrix product in exp space, Viterbi's a max over B x K x K), never a
loop over sentences or tags; the gold sequences' scores are gathered, not searched. Padding
(positions past a sentence's length) carries the state through unchanged. Scores are fp32 whatever
the emissions' dtype (the forward algorithm's exponentials float64).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IGNORE = -100  # target at padding positions (as the taggers' cross-entropy)
_TINY = torch.finfo(torch.float64).tiny  # floor of an exp-space sum, so its log stays finite


class LinearChainCRF(nn.Module):
    """Sequence scores over ``num_tags`` tags: ``transitions[i, j]`` scores tag j right after tag i."""

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError("a CRF needs at least one tag")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # K x K
        self.start = nn.Parameter(torch.zeros(num_tags))  # K: the first tag's score
        self.end = nn.Parameter(torch.zeros(num_tags))  # K: the last tag's score

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """log of the summed exp-scores of every tag sequence, B (emissions B x T x K; mask B x T,
        True at real words, a prefix of each row; ``-inf`` emissions rule a tag out there).

        Each step is a B x K by K x K matrix product in exp space, far cheaper, forward and
        backward, than a log-sum-exp over a B x K x K tensor. The exponentials are shifted by each
        row's largest score and the largest transition (nothing overflows) and taken in float64,
        so a term underflows only when it lies over 700 below the step's largest one: exact for
        any tagger's scores (a log-sum-exp in fp32 drops terms 100 below)."""
        emissions = emissions.float()
        top = self.transitions.max().detach()
        exp_transitions = (self.transitions - top).double().exp()  # K x K, at most 1
        alpha = self.start + emissions[:, 0]  # B x K
        for t in range(1, emissions.size(1)):
            # Any shift gives the same value; the row maximum (constant for the gradient) keeps the
            # largest term at 1. A row of -inf (not reachable) is shifted by 0 instead.
            shift = alpha.detach().amax(dim=1, keepdim=True)  # B x 1
            shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
            summed = ((alpha - shift).double().exp() @ exp_transitions).clamp_min(_TINY)  # B x K
            step = summed.log().float() + shift + top + emissions[:, t]
            alpha = torch.where(mask[:, t, None], step, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)  # B

    def gold_score(self, emissions: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
        """The score of each sentence's gold sequence, B (targets B x T, known tags at the real
        positions of ``mask``; a sentence without words scores 0)."""
        emissions = emissions.float()
        tags = targets.masked_fill(~mask, 0)  # B x T
        words = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # B x T
        pairs = self.transitions[tags[:, :-1], tags[:, 1:]]  # B x (T - 1)
        lengths = mask.sum(dim=1)  # B
        last = tags.gather(1, (lengths - 1).clamp(min=0).unsqueeze(1)).squeeze(1)  # B
        score = (words * mask).sum(1) + (pairs * mask[:, 1:]).sum(1) + self.start[tags[:, 0]] + self.end[last]
        return score * (lengths > 0)

    def nll(self, emissions: Tensor, targets: Tensor) -> Tensor:
        """Negative log-likelihood of the gold sequences per real word (a scalar).

        ``targets``: B x T gold ids, ``IGNORE`` at padding. A gold id ``>= num_tags`` (a tag the
        model does not know) leaves that word's tag open: the likelihood sums over every tag there,
        so the word teaches nothing about itself but its neighbours still count.
        """
        mask = targets != IGNORE  # B x T
        known = mask & (targets < self.num_tags)
        log_z = self.log_partition(emissions, mask)  # B
        if bool((known == mask).all()):
            gold = self.gold_score(emissions, targets, mask)  # B
        else:  # sum over the open words' tags: the forward algorithm restricted to the gold tags
            gold_tags = F.one_hot(targets.clamp(0, self.num_tags - 1), self.num_tags).bool()  # B x T x K
            allowed = gold_tags | ~known.unsqueeze(-1)
            gold = self.log_partition(emissions.float().masked_fill(~allowed, float("-inf")), mask)
        return (log_z - gold).sum() / mask.sum().clamp(min=1)

    def decode(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """The best tag sequence of each sentence (Viterbi), B x T ids; positions past a
        sentence's length repeat its last tag (callers mask them)."""
        emissions = emissions.float()
        batch, steps, tags = emissions.shape
        mask = torch.arange(steps, device=emissions.device) < lengths.to(emissions.device)[:, None]  # B x T
        identity = torch.arange(tags, device=emissions.device).expand(batch, tags)  # B x K
        score = self.start + emissions[:, 0]  # B x K
        backpointers = []
        for t in range(1, steps):
            best, previous = (score.unsqueeze(2) + self.transitions).max(dim=1)  # B x K each
            real = mask[:, t, None]
            score = torch.where(real, best + emissions[:, t], score)
            backpointers.append(torch.where(real, previous, identity))
        tag = (score + self.end).argmax(dim=1)  # B
        path = [tag]
        for previous in reversed(backpointers):
            tag = previous.gather(1, tag[:, None]).squeeze(1)
            path.append(tag)
        return torch.stack(path[::-1], dim=1)  # B x T
