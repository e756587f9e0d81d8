"""Tests for nlp_rnn.fileio: gzip-transparent reading, decode errors, atomic outputs."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from nlp_rnn.errors import InputError
from nlp_rnn.fileio import atomic_dir, atomic_file, iter_lines, open_text


def test_iter_lines_plain_and_gzip(tmp_path: Path) -> None:
    plain = tmp_path / "a.txt"
    plain.write_bytes(b"one\r\ntwo\nthree")
    packed = tmp_path / "a.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    expected = [(1, "one"), (2, "two"), (3, "three")]
    assert list(iter_lines(plain)) == expected
    assert list(iter_lines(packed)) == expected
    with open_text(packed) as handle:
        assert handle.read() == "one\r\ntwo\nthree"


def test_decode_error_names_line_and_column_far_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"ok line\n" * 5000 + b"caf\xe9 au lait\n")
    with pytest.raises(InputError) as caught:
        list(iter_lines(path))
    assert (caught.value.line, caught.value.column) == (5001, 4)
    assert "pass --encoding" in str(caught.value)
    assert list(iter_lines(path, "latin-1"))[-1] == (5001, "café au lait")


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        list(iter_lines(tmp_path / "nope.txt"))
    with pytest.raises(InputError, match="found a directory"):
        list(iter_lines(tmp_path))


def test_atomic_file_keeps_old_content_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as handle:
        handle.write("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_file(target) as handle:
        handle.write("new")
    assert target.read_text() == "new"


def test_atomic_dir_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "folder"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "b").write_text("2")
        raise RuntimeError("boom")
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    with atomic_dir(target) as tmp:
        (tmp / "c").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]
