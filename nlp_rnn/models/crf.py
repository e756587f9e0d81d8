"""A linear-chain conditional random field over per-word tag scores (Lafferty et al. 2001).

A softmax tagger picks each word's tag on its own; a CRF scores whole tag sequences, the sum of
the words' scores (``emissions``, from the encoder) and of a learned score for each pair of
neighbouring tags (``transitions``) and for the first and last tag, and decodes the best
sequence with the Viterbi algorithm (Huang et al. 2015, Lample et al. 2016).

Both algorithms are batched over sentences: one tensor step per position, each a B x K x K
operation, never a loop over sentences or tags. Padding (positions past a sentence's length)
carries the state through unchanged. Everything runs in fp32 whatever the emissions' dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IGNORE = -100  # target at padding positions (as the taggers' cross-entropy)


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
        True at real words, a prefix of each row; ``-inf`` emissions rule a tag out there)."""
        emissions = emissions.float()
        alpha = self.start + emissions[:, 0]  # B x K
        for t in range(1, emissions.size(1)):
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, dim=1) + emissions[:, t]  # B x K
            alpha = torch.where(mask[:, t, None], step, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)  # B

    def nll(self, emissions: Tensor, targets: Tensor) -> Tensor:
        """Negative log-likelihood of the gold sequences per real word (a scalar).

        ``targets``: B x T gold ids, ``IGNORE`` at padding. A gold id ``>= num_tags`` (a tag the
        model does not know) leaves that word's tag open: the likelihood sums over every tag there,
        so the word teaches nothing about itself but its neighbours still count.
        """
        mask = targets != IGNORE  # B x T
        known = mask & (targets < self.num_tags)
        gold = F.one_hot(targets.clamp(0, self.num_tags - 1), self.num_tags).bool()  # B x T x K
        allowed = gold | ~known.unsqueeze(-1)
        constrained = emissions.float().masked_fill(~allowed, float("-inf"))
        per_sentence = self.log_partition(emissions, mask) - self.log_partition(constrained, mask)  # B
        return per_sentence.sum() / mask.sum().clamp(min=1)

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
