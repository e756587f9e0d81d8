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

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor

from nlp_rnn.models.encoder import real_steps_mask

Output = TypeVar("Output")


def adversarial_loss(
    vectors: Tensor,
    lengths: Tensor,
    epsilon: float,
    weight: float,
    scored: Callable[[Tensor], tuple[Output, Tensor]],
) -> tuple[Output, Tensor]:
    """``scored(vectors) -> (output, loss)`` on the clean ``vectors`` (B x T x D) and on them moved
    by :func:`adversarial_perturbation`: the clean output, and the clean loss plus ``weight`` times
    the moved one. Frozen vectors still get a direction (a gradient is taken from a copy)."""
    if not vectors.requires_grad:
        vectors = vectors.detach().requires_grad_()
    output, clean = scored(vectors)
    (gradient,) = torch.autograd.grad(clean, vectors, retain_graph=True)  # B x T x D
    _, moved = scored(vectors + adversarial_perturbation(vectors, gradient, lengths, epsilon))
    return output, clean + weight * moved


def adversarial_perturbation(vectors: Tensor, gradient: Tensor, lengths: Tensor, epsilon: float) -> Tensor:
    """The B x T x D step to add to ``vectors`` (B x T x D), given the loss's ``gradient`` with
    respect to them; no gradient flows through it."""
    with torch.no_grad():
        counts = lengths.to(vectors.device)  # B
        real = real_steps_mask(counts, vectors.size(1)).unsqueeze(-1)  # B x T x 1
        direction = gradient * real  # B x T x D: padding stays where it is
        word_norm = (vectors * real).norm(dim=(1, 2)) / counts.clamp_min(1).sqrt()  # B: RMS word norm
        step = (epsilon * word_norm).view(-1, 1, 1)  # B x 1 x 1
        return step * direction / direction.norm(dim=(1, 2), keepdim=True).clamp_min(1e-12)
