"""Adversarial perturbations of word vectors (Miyato et al. 2017, "Adversarial training methods
for semi-supervised text classification"; Yasunaga et al. 2018 for tagging).

Each text's vectors move a small step in the direction that raises its loss most: the gradient of
the loss with respect to the vectors, L2-normalised over the whole text. The step's length is
``epsilon`` times the text's root-mean-square word-vector norm, the same share of a typical word
whatever the text's length, which the model cannot escape by growing its vectors (Miyato et al.
normalise the embeddings instead). Padding never moves.

Shapes: B texts, T steps (right-padded, ``lengths`` B), D vector dimensions.
"""

from __future__ import annotations

import torch
from torch import Tensor


def adversarial_perturbation(vectors: Tensor, gradient: Tensor, lengths: Tensor, epsilon: float) -> Tensor:
    """The B x T x D step to add to ``vectors`` (B x T x D), given the loss's ``gradient`` with
    respect to them; no gradient flows through it."""
    with torch.no_grad():
        counts = lengths.to(vectors.device)  # B
        real = (torch.arange(vectors.size(1), device=vectors.device) < counts.unsqueeze(1)).unsqueeze(-1)
        direction = gradient * real  # B x T x D: padding stays where it is
        word_norm = (vectors * real).norm(dim=(1, 2)) / counts.clamp_min(1).sqrt()  # B: RMS word norm
        step = (epsilon * word_norm).view(-1, 1, 1)  # B x 1 x 1
        return step * direction / direction.norm(dim=(1, 2), keepdim=True).clamp_min(1e-12)
