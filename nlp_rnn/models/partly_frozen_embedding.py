"""An embedding table whose leading rows train and whose other rows stay fixed."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PartlyFrozenEmbedding(nn.Module):
    """An embedding whose first ``trainable_rows`` rows train and whose other rows stay fixed.

    For vocabularies extended with pretrained words never seen in training: those rows get no
    gradient anyway, and keeping them out of the parameters spares the optimizer a dense update
    of the whole table at every step (the vectors' 100,000 words are 7x SST-2's training words).
    ``weight`` (trainable_rows x D) is a parameter, ``frozen`` ((V - trainable_rows) x D) a buffer;
    both are saved. Ids index the concatenation of the two, as in one ``nn.Embedding``.
    """

    def __init__(self, weight: Tensor, frozen: Tensor, padding_idx: int | None = 0) -> None:
        super().__init__()
        if weight.size(1) != frozen.size(1):
            raise ValueError("trainable and frozen rows must have the same width")
        self.weight = nn.Parameter(weight)
        self.register_buffer("frozen", frozen)
        self.padding_idx = padding_idx
        self.trainable_rows = weight.size(0)
        self.num_embeddings = weight.size(0) + frozen.size(0)
        self.embedding_dim = weight.size(1)

    @classmethod
    def split(cls, embedding: nn.Embedding, trainable_rows: int) -> PartlyFrozenEmbedding:
        """The same table as ``embedding``, its rows from ``trainable_rows`` on frozen."""
        weight = embedding.weight.detach()
        return cls(weight[:trainable_rows].clone(), weight[trainable_rows:].clone(), embedding.padding_idx)

    @classmethod
    def empty(
        cls, rows: int, trainable_rows: int, dim: int, padding_idx: int | None = 0
    ) -> PartlyFrozenEmbedding:
        """An untrained table of the right shapes, to load saved weights into."""
        return cls(torch.zeros(trainable_rows, dim), torch.zeros(rows - trainable_rows, dim), padding_idx)

    def forward(self, ids: Tensor) -> Tensor:
        """Any shape of ids -> the same shape x D."""
        extra = ids >= self.trainable_rows
        vectors = F.embedding(ids.clamp(max=self.trainable_rows - 1), self.weight, self.padding_idx)
        if not bool(extra.any()):
            return vectors
        fixed = F.embedding((ids - self.trainable_rows).clamp(min=0), self.frozen)
        return torch.where(extra.unsqueeze(-1), fixed, vectors)
