"""Tests for nlp_rnn.embeddings.vectors_io: formats, detection, round trips, and bad files."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlp_rnn.embeddings.vectors_io import (
    MODEL_GENSIM_FILE,
    MODEL_INFO_FILE,
    MODEL_TEXT_FILE,
    detect_format,
    load_any_vectors,
    load_model_vectors,
    load_vectors,
    read_model_info,
    save_model_vectors,
    save_vectors,
)
from nlp_rnn.errors import InputError


def make_kv(words: list[str], dim: int = 4, seed: int = 0) -> KeyedVectors:
    kv = KeyedVectors(vector_size=dim, count=0)
    kv.add_vectors(words, np.random.default_rng(seed).normal(size=(len(words), dim)).astype(np.float32))
    return kv


def assert_same(a: KeyedVectors, b: KeyedVectors) -> None:
    assert a.index_to_key == b.index_to_key
    np.testing.assert_array_equal(a.vectors, b.vectors)


WORDS = ["the", "cat", "sat", "Ünïcode", "naïve", "東京"]


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ("word2vec-text", "v.txt"),
        ("word2vec-binary", "v.bin"),
        ("glove", "glove.txt"),
        ("word2vec-text", "v.txt.gz"),
        ("word2vec-binary", "v.bin.gz"),
        ("glove", "glove.txt.gz"),
    ],
)
def test_round_trip_and_detection(tmp_path: Path, fmt: str, name: str) -> None:
    kv = make_kv(WORDS)
    path = save_vectors(kv, tmp_path / name, fmt)
    assert detect_format(path) == fmt
    assert_same(load_vectors(path), kv)
    assert_same(load_vectors(path, fmt), kv)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    words=st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")),
            min_size=1,
            max_size=8,
        ),
        min_size=1,
        max_size=12,
        unique=True,
    ),
    dim=st.integers(1, 6),
    data=st.data(),
)
def test_text_round_trip_is_exact(tmp_path: Path, words: list[str], dim: int, data) -> None:
    """Any float32 values, any words without whitespace: text files read back bit for bit."""
    values = data.draw(
        st.lists(
            st.floats(allow_nan=False, allow_infinity=False, width=32),
            min_size=len(words) * dim,
            max_size=len(words) * dim,
        )
    )
    kv = KeyedVectors(vector_size=dim, count=0)
    kv.add_vectors(words, np.array(values, dtype=np.float32).reshape(len(words), dim))
    for fmt in ("word2vec-text", "glove", "word2vec-binary"):
        path = save_vectors(kv, tmp_path / f"v.{fmt}", fmt)
        assert_same(load_vectors(path, fmt), kv)


def test_interoperates_with_gensim(tmp_path: Path) -> None:
    kv = make_kv(WORDS, dim=5)
    ours_text = save_vectors(kv, tmp_path / "ours.txt", "word2vec-text")
    ours_bin = save_vectors(kv, tmp_path / "ours.bin", "word2vec-binary")
    assert_same(KeyedVectors.load_word2vec_format(str(ours_text)), kv)
    assert_same(KeyedVectors.load_word2vec_format(str(ours_bin), binary=True), kv)
    kv.save_word2vec_format(str(tmp_path / "theirs.txt"))
    kv.save_word2vec_format(str(tmp_path / "theirs.bin"), binary=True)
    assert_same(load_vectors(tmp_path / "theirs.txt"), kv)
    assert_same(load_vectors(tmp_path / "theirs.bin"), kv)


def test_reads_c_tool_trailing_spaces_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(b"2 3\r\nfoo 1 2 3 \r\nbar 4 5 6 \r\n")
    kv = load_vectors(path)
    assert kv.index_to_key == ["foo", "bar"]
    np.testing.assert_array_equal(kv["bar"], [4, 5, 6])


def test_glove_words_with_spaces(tmp_path: Path) -> None:
    path = tmp_path / "glove.txt"
    path.write_text("the 0.1 0.2\n. . . 0.3 0.4\nat name@x.com 0.5 0.6\n", encoding="utf-8")
    kv = load_vectors(path)
    assert kv.index_to_key == ["the", ". . .", "at name@x.com"]


def test_limit_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "dup.txt"
    path.write_text("4 2\na 1 1\nb 2 2\na 3 3\nc 4 4\n", encoding="utf-8")
    kv = load_vectors(path)
    assert kv.index_to_key == ["a", "b", "c"]
    np.testing.assert_array_equal(kv["a"], [1, 1])  # the first vector of a duplicate wins
    assert load_vectors(path, limit=2).index_to_key == ["a", "b"]
    binary = save_vectors(make_kv(WORDS), tmp_path / "v.bin", "word2vec-binary")
    assert load_vectors(binary, limit=2).index_to_key == WORDS[:2]


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (
            b"2 3\nfoo 1 2 3\nbar 1 2\n",
            3,
            "inconsistent dimensions: expected 3 values after the word, found 2",
        ),
        (b"2 3\nfoo 1 2 3\nbar 1 2 3 4\n", 3, "inconsistent dimensions"),
        (b"foo 1 2 3\nbar 1 2\n", 2, "inconsistent dimensions"),  # GloVe: the first line fixes it
        (b"2 x\nfoo 1 2 3\n", 1, "not a vectors file"),
        (b"3 3\nfoo 1 2 3\nbar 4 5 6\n", 1, "promises 3 vectors but the file has 2"),
        (b"1 3\nfoo 1 2 3\nbar 4 5 6\n", 3, "promises 1 vectors but the file has more"),
        (b"2 3\nfoo 1 2 3\nbar 4 five 6\n", 3, "expected a number, found 'five'"),
        (b"2 3\nfoo 1 2 3\nbar 4 nan 6\n", 3, "NaN or infinity"),
        (b"2 3\nfoo 1 2 3\nb\xe9r 4 5 6\n", 3, "not valid UTF-8"),
        (b"2 3\nb\xe9r 1 2 3\nfoo 4 5 6\n", 2, "not valid UTF-8"),
        (b"foo 1 2\n\nbar 3 4\n", 2, "empty or one-field line"),
        (b"just words here\n", 1, "not a vectors file"),
    ],
)
def test_bad_text_files_name_file_and_line(tmp_path: Path, content: bytes, line: int, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        load_vectors(path)
    assert caught.value.path == str(path)
    assert caught.value.line == line
    assert message in caught.value.problem


def test_explicit_format_checks_header(tmp_path: Path) -> None:
    path = tmp_path / "glove.txt"
    path.write_text("foo 1 2 3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"glove.txt:1: bad header: expected 'COUNT DIM'"):
        load_vectors(path, "word2vec-text")
    with pytest.raises(InputError, match="bad header"):
        load_vectors(path, "word2vec-binary")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty.txt: the vectors file is empty"):
        load_vectors(path)


def binary_record(word: bytes, values: list[float]) -> bytes:
    return word + b" " + struct.pack(f"<{len(values)}f", *values) + b"\n"


def test_bad_binary_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.bin"
    path.write_bytes(b"2 2\n" + binary_record(b"ok", [1, 2]) + binary_record(b"b\xff", [3, 4]))
    with pytest.raises(InputError) as caught:
        load_vectors(path, "word2vec-binary")
    assert caught.value.line == 3 and "record 2" in caught.value.problem and "UTF-8" in caught.value.problem

    path.write_bytes(b"2 2\n" + binary_record(b"ok", [1, 2]) + b"short " + b"\x00\x00")
    with pytest.raises(InputError, match="record 2 .*expected 2 float32 values, the file ends first"):
        load_vectors(path, "word2vec-binary")

    path.write_bytes(b"3 2\n" + binary_record(b"ok", [1, 2]) + binary_record(b"no", [3, 4]))
    with pytest.raises(InputError, match="promises 3 vectors but the file ends after 2"):
        load_vectors(path)

    path.write_bytes(b"1 2\n" + binary_record(b"inf", [float("inf"), 2]))
    with pytest.raises(InputError, match="NaN or infinity"):
        load_vectors(path, "word2vec-binary")


def test_pickles_are_refused(tmp_path: Path) -> None:
    kv = make_kv(WORDS)
    path = tmp_path / "vectors.kv"
    kv.save(str(path))
    assert detect_format(path) == "gensim"
    with pytest.raises(InputError, match="pickled KeyedVectors format"):
        load_vectors(path)
    with pytest.raises(InputError, match="pickled"):
        load_vectors(path, "gensim")
    other = tmp_path / "evil.pkl"
    other.write_bytes(pickle.dumps({"not": "vectors"}))
    with pytest.raises(InputError, match="pickled"):
        load_vectors(other)


def test_model_folder_round_trip(tmp_path: Path) -> None:
    kv = make_kv(WORDS)
    save_model_vectors(kv, tmp_path / "model", {"metrics": {"vocab_size": len(WORDS)}})
    for name in (MODEL_TEXT_FILE, MODEL_GENSIM_FILE, MODEL_INFO_FILE):
        assert (tmp_path / "model" / name).is_file()
    assert_same(load_model_vectors(tmp_path / "model"), kv)
    assert_same(load_any_vectors(tmp_path / "model"), kv)
    assert_same(load_any_vectors(tmp_path / "model" / MODEL_TEXT_FILE), kv)
    assert read_model_info(tmp_path / "model")["metrics"]["vocab_size"] == len(WORDS)


def test_model_folder_needs_marker(tmp_path: Path) -> None:
    folder = tmp_path / "someone_elses"
    folder.mkdir()
    make_kv(WORDS).save(str(folder / MODEL_GENSIM_FILE))
    with pytest.raises(InputError, match="not a word2vec model folder"):
        load_model_vectors(folder)
    with pytest.raises(InputError, match="found a directory"):
        load_vectors(folder)


def test_unsavable_words(tmp_path: Path) -> None:
    kv = make_kv(["fine", "two words"])
    save_vectors(kv, tmp_path / "ok.txt")  # inner spaces are readable in text formats
    assert load_vectors(tmp_path / "ok.txt").index_to_key == ["fine", "two words"]
    with pytest.raises(ValueError, match="cannot save word"):
        save_vectors(kv, tmp_path / "no.bin", "word2vec-binary")
    with pytest.raises(ValueError, match="cannot save word"):
        save_vectors(make_kv(["line\nbreak"]), tmp_path / "no.txt")
    assert not (tmp_path / "no.txt").exists()  # atomic: nothing half-written


def test_gzip_text_is_really_compressed(tmp_path: Path) -> None:
    path = save_vectors(make_kv(WORDS), tmp_path / "v.txt.gz")
    assert gzip.decompress(path.read_bytes()).startswith(b"6 4\n")
