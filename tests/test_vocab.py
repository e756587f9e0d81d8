"""Tests for nlp_rnn.text.vocab: ordering, specials, encode/decode, JSON save/load, coverage."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.text.vocab import LABEL_SPECIALS, NO_MARKERS, SPECIALS, Vocab

COUNTS = Counter({"the": 5, "cat": 3, "dog": 3, "a": 3, "mat": 1, "zebra": 1})
TOKEN = st.text(min_size=1, max_size=8)


def test_specials_have_fixed_ids_and_order_is_deterministic() -> None:
    vocab = Vocab.build(COUNTS)
    assert vocab.itos == ["<pad>", "<unk>", "<bos>", "<eos>", "the", "a", "cat", "dog", "mat", "zebra"]
    assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, 3)
    assert vocab.stoi["cat"] == 6
    assert len(vocab) == 10
    assert "dog" in vocab and "cow" not in vocab
    assert vocab.freqs["the"] == 5
    # Insertion order of the counts does not matter.
    assert Vocab.build(Counter(dict(reversed(list(COUNTS.items()))))).itos == vocab.itos


def test_min_freq_and_max_size() -> None:
    assert Vocab.build(COUNTS, min_freq=3).itos[4:] == ["the", "a", "cat", "dog"]
    capped = Vocab.build(COUNTS, max_size=6)
    assert len(capped) == 6
    assert capped.itos[4:] == ["the", "a"]
    with pytest.raises(NlpRnnError, match="no room"):
        Vocab.build(COUNTS, max_size=3)
    with pytest.raises(NlpRnnError, match="min_freq"):
        Vocab.build(COUNTS, min_freq=0)


def test_build_from_token_lists_and_specials_in_data() -> None:
    vocab = Vocab.build([["b", "a", "<unk>"], ["a"]])
    assert vocab.itos == list(SPECIALS) + ["a", "b"]
    assert vocab == Vocab.build(Counter({"a": 2, "b": 1}))


def test_label_vocab_has_no_pad_or_unk() -> None:
    labels = Vocab.build(Counter({"pos": 10, "neg": 12}), specials=LABEL_SPECIALS)
    assert labels.itos == ["neg", "pos"]
    assert labels.pad_id is labels.unk_id is labels.bos_id is None
    assert labels.encode(["pos", "neg"]) == [1, 0]
    with pytest.raises(NlpRnnError, match="'neutral' is not in the vocabulary"):
        labels.encode(["neutral"])
    with pytest.raises(NlpRnnError, match="no <bos>"):
        labels.encode(["pos"], add_bos=True)


def test_vocab_without_markers() -> None:
    vocab = Vocab.build(COUNTS, specials=NO_MARKERS)
    assert vocab.itos[:3] == ["<pad>", "<unk>", "the"]
    assert vocab.bos_id is None and vocab.eos_id is None
    with pytest.raises(NlpRnnError, match="prefix"):
        Vocab.build(COUNTS, specials=("<unk>", "<pad>"))


def test_encode_decode() -> None:
    vocab = Vocab.build(COUNTS)
    ids = vocab.encode(["the", "cow", "cat"], add_bos=True, add_eos=True)
    assert ids == [2, 4, 1, 6, 3]
    assert vocab.decode(ids) == ["the", "<unk>", "cat"]
    assert vocab.decode(ids + [0, 0], strip_specials=False) == [
        "<bos>", "the", "<unk>", "cat", "<eos>", "<pad>", "<pad>",
    ]  # fmt: skip
    assert vocab.decode(torch.tensor(ids)) == ["the", "<unk>", "cat"]


@given(st.lists(TOKEN, min_size=1, max_size=30))
def test_round_trip_for_in_vocab_tokens(tokens: list[str]) -> None:
    vocab = Vocab.build([tokens])
    ordinary = [token for token in tokens if token not in SPECIALS]
    assert vocab.decode(vocab.encode(ordinary)) == ordinary
    assert vocab.decode(vocab.encode(ordinary, add_bos=True, add_eos=True)) == ordinary


@given(st.lists(TOKEN, max_size=20), st.lists(TOKEN, max_size=20))
def test_unseen_tokens_map_to_unk(known: list[str], other: list[str]) -> None:
    vocab = Vocab.build([known])
    for token, index in zip(other, vocab.encode(other), strict=True):
        if token in vocab:
            assert vocab.itos[index] == token
        else:
            assert index == vocab.unk_id


def test_coverage() -> None:
    vocab = Vocab.build(COUNTS, min_freq=3)
    report = vocab.coverage(Counter({"the": 6, "cat": 2, "mat": 1, "owl": 1}))
    assert report == {
        "tokens": 10,
        "types": 4,
        "oov_tokens": 2,
        "oov_types": 2,
        "token_oov_rate": 0.2,
        "type_oov_rate": 0.5,
    }
    assert vocab.coverage([["the", "owl"]])["token_oov_rate"] == 0.5
    assert vocab.coverage(Counter())["token_oov_rate"] == 0.0


def test_save_load_round_trip(tmp_path) -> None:
    for specials in (SPECIALS, NO_MARKERS, LABEL_SPECIALS):
        vocab = Vocab.build(COUNTS, specials=specials)
        path = vocab.save(tmp_path / "sub" / "vocab.json")
        loaded = Vocab.load(path)
        assert loaded == vocab
        assert loaded.stoi == vocab.stoi
        assert loaded.unk_id == vocab.unk_id
    assert Vocab.build(Counter({"ünï": 1})).save(tmp_path / "u.json").read_text(encoding="utf-8").count("ünï")


def _write(tmp_path, data) -> str:
    path = tmp_path / "vocab.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _valid() -> dict:
    return {
        "format": "nlp-rnn-vocab",
        "version": 1,
        "specials": ["<pad>", "<unk>"],
        "itos": ["<pad>", "<unk>", "a", "b"],
        "freqs": [0, 0, 2, 1],
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "other"}, "not a vocabulary file"),
        ({"version": 7}, "unsupported vocabulary version 7"),
        ({"specials": ["<unk>"]}, "prefix"),
        ({"itos": ["<pad>", "<unk>", "a", 3]}, "list of strings"),
        ({"itos": ["<unk>", "<pad>", "a", "b"]}, "must start with the specials"),
        ({"itos": ["<pad>", "<unk>", "a", "a"]}, "'a' appears twice"),
        ({"freqs": [0, 0, 2]}, "list of 4 non-negative integers"),
        ({"freqs": [0, 0, 2, -1]}, "non-negative"),
    ],
)
def test_load_validates(tmp_path, change: dict, message: str) -> None:
    path = _write(tmp_path, {**_valid(), **change})
    with pytest.raises(InputError, match=message) as info:
        Vocab.load(path)
    assert str(path) in str(info.value)


def test_load_reports_bad_json_position_and_missing_file(tmp_path) -> None:
    assert Vocab.load(_write(tmp_path, _valid())).itos[2:] == ["a", "b"]
    with pytest.raises(InputError, match=r"vocab.json:2:\d+: invalid JSON"):
        Vocab.load(_write(tmp_path, '{"format":\n nope}'))
    with pytest.raises(InputError, match="not found"):
        Vocab.load(tmp_path / "missing.json")
    with pytest.raises(InputError, match="not a vocabulary"):
        Vocab.load(_write(tmp_path, "[1, 2]"))


def test_duplicate_tokens_rejected() -> None:
    with pytest.raises(NlpRnnError, match="twice"):
        Vocab(["a", "a"])
