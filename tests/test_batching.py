"""Tests for nlp_rnn.data.batching: padding, masks, length buckets, the DDP-aware sampler."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from nlp_rnn.data.batching import LengthBucketSampler, bucket_batches, pad_sequences, padding_mask

LENGTHS = st.lists(st.integers(min_value=0, max_value=60), max_size=300)


def test_pad_sequences_from_lists() -> None:
    padded, lengths = pad_sequences([[5, 6, 7], [8], []], pad_id=0)
    assert padded.dtype == torch.long
    assert padded.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert lengths.tolist() == [3, 1, 0]
    padded, _ = pad_sequences([[1], [2, 3]], pad_id=-1)
    assert padded.tolist() == [[1, -1], [2, 3]]


def test_pad_sequences_from_tensors_keeps_dtype_and_trailing_dims() -> None:
    padded, lengths = pad_sequences([torch.ones(2, 4), torch.ones(3, 4)], pad_id=0)
    assert padded.shape == (2, 3, 4)
    assert padded.dtype == torch.float32
    assert padded[0, 2].sum() == 0
    assert lengths.tolist() == [2, 3]
    ids, _ = pad_sequences([torch.tensor([1, 2]), torch.tensor([3])], pad_id=9)
    assert ids.tolist() == [[1, 2], [3, 9]]


def test_pad_sequences_empty_batch() -> None:
    padded, lengths = pad_sequences([])
    assert padded.shape == (0, 0)
    assert lengths.shape == (0,)


def test_padding_mask_is_true_at_padding() -> None:
    mask = padding_mask(torch.tensor([3, 1, 0]))
    assert mask.dtype == torch.bool
    assert mask.tolist() == [[False, False, False], [False, True, True], [True, True, True]]
    assert padding_mask(torch.tensor([1]), max_len=3).tolist() == [[False, True, True]]
    assert padding_mask(torch.tensor([], dtype=torch.long)).shape == (0, 0)


def _check_partition(batches: list[list[int]], n: int) -> None:
    flat = [index for batch in batches for index in batch]
    assert sorted(flat) == list(range(n))
    assert all(batches)


@given(LENGTHS, st.integers(1, 40), st.booleans(), st.integers(0, 3))
def test_every_index_exactly_once_and_batch_size_cap(lengths, batch_size, shuffle, seed) -> None:
    batches = bucket_batches(lengths, batch_size=batch_size, shuffle=shuffle, seed=seed)
    _check_partition(batches, len(lengths))
    assert all(len(batch) <= batch_size for batch in batches)


@given(LENGTHS, st.integers(1, 200), st.sampled_from([None, 8]), st.integers(1, 5))
def test_token_cap_respected(lengths, max_tokens, batch_size, multiplier) -> None:
    batches = bucket_batches(
        lengths, batch_size=batch_size, max_tokens=max_tokens, bucket_size_multiplier=multiplier
    )
    _check_partition(batches, len(lengths))
    for batch in batches:
        padded_tokens = max(lengths[i] for i in batch) * len(batch)
        # Only a sentence longer than the cap may exceed it, and then it is alone.
        assert padded_tokens <= max_tokens or len(batch) == 1
        if batch_size is not None:
            assert len(batch) <= batch_size


def test_buckets_group_similar_lengths() -> None:
    lengths = [(i * 37) % 50 + 1 for i in range(1000)]
    batches = bucket_batches(lengths, batch_size=20, bucket_size_multiplier=50)
    spread = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    assert sum(spread) / len(spread) <= 2


def test_deterministic_from_seed_and_sorted_without_shuffle() -> None:
    lengths = [(i * 7) % 13 for i in range(200)]
    assert bucket_batches(lengths, batch_size=8, seed=1) == bucket_batches(lengths, batch_size=8, seed=1)
    assert bucket_batches(lengths, batch_size=8, seed=1) != bucket_batches(lengths, batch_size=8, seed=2)
    ordered = bucket_batches(lengths, batch_size=8, shuffle=False)
    flat = [i for batch in ordered for i in batch]
    assert [lengths[i] for i in flat] == sorted(lengths)


def test_bucket_batches_argument_errors() -> None:
    with pytest.raises(ValueError, match="batch_size, max_tokens"):
        bucket_batches([1, 2])
    with pytest.raises(ValueError, match="batch_size"):
        bucket_batches([1, 2], batch_size=0)
    with pytest.raises(ValueError, match="negative"):
        bucket_batches([1, -2], batch_size=2)
    assert bucket_batches([], max_tokens=10) == []


def test_sampler_epochs_change_order_and_len_matches() -> None:
    lengths = [(i * 11) % 29 + 1 for i in range(500)]
    sampler = LengthBucketSampler(lengths, max_tokens=120, seed=3)
    first = list(sampler)
    assert list(sampler) == first
    assert len(sampler) == len(first)
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    assert len(sampler) == len(second)
    _check_partition(second, len(lengths))


@pytest.mark.parametrize("replicas", [2, 3, 4])
@pytest.mark.parametrize("n", [0, 1, 2, 5, 97, 400])
def test_sampler_ddp_shards_disjoint_and_equal(replicas: int, n: int) -> None:
    lengths = [(i * 5) % 17 + 1 for i in range(n)]
    shards = [
        list(LengthBucketSampler(lengths, batch_size=6, seed=9, num_replicas=replicas, rank=rank))
        for rank in range(replicas)
    ]
    assert len({len(shard) for shard in shards}) == 1
    seen = [index for shard in shards for batch in shard for index in batch]
    if n >= replicas:
        assert sorted(seen) == list(range(n))  # disjoint, and nothing lost
    else:  # fewer sentences than ranks: some batches must repeat
        assert set(seen) == set(range(n))


def test_sampler_rank_validation() -> None:
    with pytest.raises(ValueError, match="rank"):
        LengthBucketSampler([1, 2], batch_size=1, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="batch_size, max_tokens"):
        LengthBucketSampler([1, 2])


def test_sampler_with_dataloader() -> None:
    data = [list(range(1, n + 1)) for n in (3, 1, 4, 1, 5, 9, 2, 6)]
    sampler = LengthBucketSampler([len(x) for x in data], batch_size=3, seed=0)
    loader = DataLoader(data, batch_sampler=sampler, collate_fn=pad_sequences)
    total = 0
    for padded, lengths in loader:
        assert padded.shape == (len(lengths), int(lengths.max()))
        total += len(lengths)
    assert total == len(data)
