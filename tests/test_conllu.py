"""Tests for nlp_rnn.data.conllu: parsing, validation errors, and byte-exact writing back."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp_rnn.data.conllu import iter_sentences, replace_tags, write_conllu
from nlp_rnn.data.readers import read_conllu
from nlp_rnn.errors import InputError


def test_words_exclude_multiword_tokens_and_empty_nodes(fixtures_dir: Path) -> None:
    sentences = list(iter_sentences(fixtures_dir / "sample.conllu"))
    assert [s["sent_id"] for s in sentences] == ["s1", "s2", "s3"]
    first, second, _ = sentences
    assert first["tokens"] == ["do", "n't", "know", "."]
    assert first["upos"] == ["AUX", "PART", "VERB", "PUNCT"]
    assert first["xpos"] == ["VBP", "RB", "VB", "."]
    assert first["text"] == "I don't know."
    assert "1-2\tdon't" in first["conllu"]  # kept for writing back
    assert second["tokens"] == ["Mary", "eats", "and", "John", "apples"]
    assert "4.1\teats" in second["conllu"]


def test_text_is_rebuilt_from_surface_forms_when_comment_missing(fixtures_dir: Path) -> None:
    third = list(iter_sentences(fixtures_dir / "sample.conllu"))[2]
    # the multiword token "We're" is the surface form and carries SpaceAfter=No
    assert third["text"] == "We're!"


def test_last_sentence_without_final_blank_line_is_read(fixtures_dir: Path) -> None:
    sentences = list(iter_sentences(fixtures_dir / "no_final_blank.conllu"))
    assert [s["sent_id"] for s in sentences] == ["a", "b"]
    assert sentences[1]["tokens"] == ["Bye", "now"]
    assert sentences[0]["text"] == "Hello"


@pytest.mark.parametrize(
    ("name", "line", "column", "message"),
    [
        ("bad_spaces.conllu", 5, 2, "spaces instead of tabs"),
        ("bad_columns.conllu", 5, 26, "expected 10 tab-separated columns, found 8"),
        ("bad_id.conllu", 6, 1, "ID 'x' is not an integer"),
    ],
)
def test_format_errors_name_file_line_and_column(
    fixtures_dir: Path, name: str, line: int, column: int, message: str
) -> None:
    path = fixtures_dir / name
    with pytest.raises(InputError) as caught:
        list(iter_sentences(path))
    error = caught.value
    assert (error.line, error.column) == (line, column)
    assert message in str(error)
    assert str(error).startswith(f"{path}:{line}:{column}: ")
    assert "\n" not in str(error)


def test_skipping_invalid_sentences_keeps_the_others(fixtures_dir: Path) -> None:
    problems: list[InputError] = []
    sentences = list(iter_sentences(fixtures_dir / "bad_id.conllu", on_invalid=problems.append))
    assert [s["sent_id"] for s in sentences] == ["ok1", "ok2"]
    assert len(problems) == 1 and problems[0].line == 6


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "in.conllu"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2\tword\tword\tNOUN\tNN\t_\t0\troot\t_\t_", "expected word ID 1, found 2"),
        ("1\tword\t\tNOUN\tNN\t_\t0\troot\t_\t_", "column LEMMA is empty"),
        ("1\ta\tb\tc\td\te\tf\tg\th\ti\tj", "found 11"),
    ],
)
def test_other_line_errors(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        list(iter_sentences(_write(tmp_path, f"# sent_id = x\n{line}\n\n")))


def test_comment_only_block_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no word lines"):
        list(iter_sentences(_write(tmp_path, "# just a comment\n\n")))


def test_undecodable_bytes_name_the_line_and_suggest_encoding(tmp_path: Path) -> None:
    path = tmp_path / "latin.conllu"
    path.write_bytes(b"# sent_id = a\n1\tcaf\xe9\tcafe\tNOUN\tNN\t_\t0\troot\t_\t_\n\n")
    with pytest.raises(InputError, match="--encoding"):
        list(iter_sentences(path))
    assert [s["tokens"] for s in iter_sentences(path, encoding="latin-1")] == [["café"]]


def test_decode_error_reports_the_offending_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin.conllu"
    path.write_bytes(b"# sent_id = a\n1\tcaf\xe9\tcafe\tNOUN\tNN\t_\t0\troot\t_\t_\n\n")
    with pytest.raises(InputError) as caught:
        list(iter_sentences(path))
    assert (caught.value.line, caught.value.column) == (2, 6)


def test_unchanged_write_is_byte_identical(fixtures_dir: Path, tmp_path: Path) -> None:
    source = fixtures_dir / "sample.conllu"
    out = tmp_path / "out.conllu"
    assert write_conllu(iter_sentences(source), out) == 3
    assert out.read_bytes() == source.read_bytes()


def test_write_adds_the_missing_final_blank_line(fixtures_dir: Path, tmp_path: Path) -> None:
    source = fixtures_dir / "no_final_blank.conllu"
    out = tmp_path / "out.conllu"
    write_conllu(iter_sentences(source), out)
    assert out.read_bytes() == source.read_bytes() + b"\n\n"


def test_write_replaces_only_upos_and_xpos_of_words(fixtures_dir: Path, tmp_path: Path) -> None:
    source = fixtures_dir / "sample.conllu"
    rows = []
    for sentence in iter_sentences(source):
        n = len(sentence["tokens"])
        rows.append({**sentence, "upos": ["X"] * n, "xpos": ["PRED"] * n})
    out = tmp_path / "pred.conllu"
    write_conllu(rows, out)
    original = source.read_text().split("\n")
    written = out.read_text().split("\n")
    assert len(original) == len(written)
    for old, new in zip(original, written, strict=True):
        old_fields, new_fields = old.split("\t"), new.split("\t")
        if len(old_fields) == 10 and old_fields[0].isdigit():
            assert new_fields[3:5] == ["X", "PRED"]
            assert new_fields[:3] + new_fields[5:] == old_fields[:3] + old_fields[5:]
        else:  # comments, multiword tokens, empty nodes, blank lines
            assert new == old


def test_replace_tags_checks_counts_and_values() -> None:
    block = "1\ta\ta\tX\tX\t_\t0\troot\t_\t_\n"
    assert replace_tags(block, None, None) == block
    with pytest.raises(ValueError, match="2 UPOS tags"):
        replace_tags(block, ["A", "B"], None)
    with pytest.raises(ValueError, match="invalid tag"):
        replace_tags(block, ["A\tB"], None)


def test_dataset_rows_write_back_identically(fixtures_dir: Path, tmp_path: Path, hf_cache: Path) -> None:
    source = fixtures_dir / "sample.conllu"
    dataset = read_conllu(source, cache_dir=hf_cache)
    assert dataset.column_names == ["sent_id", "text", "tokens", "upos", "xpos", "conllu"]
    out = tmp_path / "out.conllu"
    write_conllu(dataset, out)
    assert out.read_bytes() == source.read_bytes()


def test_real_ewt_dev_round_trip_is_byte_identical(corpora_dir: Path, tmp_path: Path, hf_cache: Path) -> None:
    source = corpora_dir / "ud_english_ewt" / "en_ewt-ud-dev.conllu"
    dataset = read_conllu(source, cache_dir=hf_cache, split="dev")
    assert len(dataset) == 2001
    out = tmp_path / "dev.conllu"
    write_conllu(dataset, out)
    assert out.read_bytes() == source.read_bytes()


# --------------------------------------------------------------------------- property tests

_FORMS = st.text(alphabet="abcdefXYZ'.,!-é", min_size=1, max_size=6)
_TAGS = st.sampled_from(["NOUN", "VERB", "ADJ", "PUNCT", "X"])


@st.composite
def _sentence(draw: st.DrawFn) -> str:
    """A random CoNLL-U sentence with comments, multiword tokens and empty nodes."""
    n = draw(st.integers(1, 6))
    lines = []
    if draw(st.booleans()):
        lines.append(f"# sent_id = s{draw(st.integers(0, 999))}")
    if draw(st.booleans()):
        lines.append(f"# text = {draw(_FORMS)}")
    multiword_at = draw(st.integers(1, n - 1)) if n > 1 and draw(st.booleans()) else None
    empty_after = draw(st.integers(1, n)) if draw(st.booleans()) else None
    for i in range(1, n + 1):
        if i == multiword_at:
            lines.append(f"{i}-{i + 1}\t{draw(_FORMS)}\t_\t_\t_\t_\t_\t_\t_\t_")
        misc = draw(st.sampled_from(["_", "SpaceAfter=No"]))
        fields = [str(i), draw(_FORMS), draw(_FORMS), draw(_TAGS), draw(_TAGS), "_", "0", "dep", "_", misc]
        lines.append("\t".join(fields))
        if i == empty_after:
            lines.append(f"{i}.1\t{draw(_FORMS)}\t_\t{draw(_TAGS)}\t_\t_\t_\t_\t{i}:dep\t_")
    return "".join(line + "\n" for line in lines)


@settings(max_examples=60, deadline=None)
@given(st.lists(_sentence(), min_size=1, max_size=4), st.data())
def test_read_write_round_trip(blocks: list[str], data: st.DataObject) -> None:
    text = "".join(block + "\n" for block in blocks)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "in.conllu")
        source.write_text(text, encoding="utf-8")
        sentences = list(iter_sentences(source))
        assert len(sentences) == len(blocks)
        unchanged = Path(tmp, "same.conllu")
        write_conllu(sentences, unchanged)
        assert unchanged.read_bytes() == source.read_bytes()

        predicted = []
        for sentence in sentences:
            n = len(sentence["tokens"])
            upos = data.draw(st.lists(_TAGS, min_size=n, max_size=n))
            predicted.append({**sentence, "upos": upos, "xpos": None})
        changed = Path(tmp, "pred.conllu")
        write_conllu(predicted, changed)
        reread = list(iter_sentences(changed))
        for before, row, after in zip(sentences, predicted, reread, strict=True):
            assert after["upos"] == row["upos"]
            assert after["xpos"] == before["xpos"]
            assert after["tokens"] == before["tokens"]
            assert after["text"] == before["text"]
