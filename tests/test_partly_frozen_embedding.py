"""PartlyFrozenEmbedding: the same lookups as one nn.Embedding, gradients only for leading rows."""

from __future__ import annotations

import pytest
import torch

from nlp_rnn.models.partly_frozen_embedding import PartlyFrozenEmbedding


def test_lookups_match_one_table_and_only_leading_rows_train() -> None:
    full = torch.nn.Embedding(10, 3, padding_idx=0)
    table = PartlyFrozenEmbedding.split(full, trainable_rows=6)
    ids = torch.tensor([[1, 7, 9, 0], [5, 6, 2, 0]])  # B x T, rows on both sides of the split
    assert torch.equal(table(ids), full(ids))
    assert [name for name, _ in table.named_parameters()] == ["weight"]
    assert table.weight.shape == (6, 3) and table.frozen.shape == (4, 3)
    assert (table.num_embeddings, table.embedding_dim, table.trainable_rows) == (10, 3, 6)
    table(ids).sum().backward()
    grad = table.weight.grad
    assert grad is not None
    assert torch.equal(grad[0], torch.zeros(3))  # padding
    assert torch.equal(grad[1], torch.ones(3)) and torch.equal(grad[3], torch.zeros(3))


def test_only_trainable_ids_take_the_short_path() -> None:
    full = torch.nn.Embedding(5, 2)
    table = PartlyFrozenEmbedding.split(full, trainable_rows=5)  # nothing frozen
    ids = torch.tensor([0, 4, 2])
    assert torch.equal(table(ids), full(ids))


def test_state_dict_holds_both_parts_and_loads_into_an_empty_table() -> None:
    table = PartlyFrozenEmbedding.split(torch.nn.Embedding(8, 4), trainable_rows=5)
    empty = PartlyFrozenEmbedding.empty(8, 5, 4)
    empty.load_state_dict(table.state_dict())
    ids = torch.arange(8)
    assert torch.equal(empty(ids), table(ids))
    with pytest.raises(ValueError, match="same width"):
        PartlyFrozenEmbedding(torch.zeros(2, 3), torch.zeros(2, 4))
