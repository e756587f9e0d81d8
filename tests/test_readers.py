"""Tests for nlp_rnn.data.readers: every format on tiny fixtures, errors, skipping, caching, and
known counts of the real corpora."""

from __future__ import annotations

import gzip
import logging
import os
import shutil
from pathlib import Path

import pytest

from nlp_rnn.data import readers
from nlp_rnn.data.readers import (
    ReadStats,
    read_conllu,
    read_jsonl,
    read_label_files,
    read_label_text,
    read_parallel,
    read_stats,
    read_text_lines,
    read_trec,
    read_tsv,
    read_wikiextractor,
)
from nlp_rnn.errors import InputError


def _gzip(source: Path, target: Path) -> Path:
    with open(source, "rb") as raw, gzip.open(target, "wb") as packed:
        shutil.copyfileobj(raw, packed)
    return target


# --------------------------------------------------------------------------- formats


def test_label_text(fixtures_dir: Path, hf_cache: Path) -> None:
    dataset = read_label_text(fixtures_dir / "sst_sample.txt", cache_dir=hf_cache)
    assert dataset.column_names == ["text", "label"]
    assert dataset["label"] == ["1", "0", "1"]
    assert dataset[1]["text"] == "apparently reassembled from the cutting-room floor ."
    assert read_stats(dataset) == ReadStats(records=3)


def test_tsv_renames_sentence_to_text_and_strips(fixtures_dir: Path, hf_cache: Path) -> None:
    dataset = read_tsv(fixtures_dir / "phrases.tsv", cache_dir=hf_cache)
    assert dataset.column_names == ["text", "label"]
    assert dataset[0] == {"text": "when are bears bears and", "label": "1"}
    kept = read_tsv(fixtures_dir / "phrases.tsv", columns={}, cache_dir=hf_cache)
    assert kept.column_names == ["sentence", "label"]


def test_tsv_read_through_gzip(fixtures_dir: Path, tmp_path: Path, hf_cache: Path) -> None:
    packed = _gzip(fixtures_dir / "phrases.tsv", tmp_path / "phrases.tsv.gz")
    assert len(read_tsv(packed, cache_dir=hf_cache)) == 3


def test_label_files_latin1(fixtures_dir: Path, hf_cache: Path) -> None:
    files = {"pos": fixtures_dir / "reviews_latin1.pos", "neg": fixtures_dir / "reviews_latin1.neg"}
    dataset = read_label_files(files, encoding="latin-1", cache_dir=hf_cache)
    assert dataset["label"] == ["pos", "pos", "neg"]  # the blank line of the .neg file is no record
    assert dataset[0]["text"] == "un film très émouvant ."
    assert dataset[2]["text"] == "a naïve and dull plot ."


def test_label_files_take_labels_from_extensions(fixtures_dir: Path, hf_cache: Path) -> None:
    files = [fixtures_dir / "reviews_latin1.neg", fixtures_dir / "reviews_latin1.pos"]
    dataset = read_label_files(files, encoding="latin-1", cache_dir=hf_cache)
    assert dataset["label"] == ["neg", "pos", "pos"]


def test_label_files_in_utf8_fail_with_encoding_hint(fixtures_dir: Path, hf_cache: Path) -> None:
    files = {"pos": fixtures_dir / "reviews_latin1.pos"}
    with pytest.raises(InputError, match="pass --encoding") as caught:
        read_label_files(files, cache_dir=hf_cache)
    assert caught.value.path.endswith("reviews_latin1.pos")
    assert caught.value.line is not None


def test_trec(fixtures_dir: Path, hf_cache: Path) -> None:
    dataset = read_trec(fixtures_dir / "trec_sample.txt", cache_dir=hf_cache)
    assert dataset.column_names == ["text", "label", "fine_label"]
    assert dataset[0] == {
        "text": "How did serfdom develop in and then leave Russia ?",
        "label": "DESC",
        "fine_label": "DESC:manner",
    }
    assert dataset[2]["text"] == "Who was the sisterðcity founder ?"


def test_jsonl_strips_br_tags_by_default(fixtures_dir: Path, hf_cache: Path) -> None:
    dataset = read_jsonl(fixtures_dir / "imdb_sample.jsonl", cache_dir=hf_cache)
    assert sorted(dataset.column_names) == ["id", "label", "rating", "text"]
    assert dataset[0]["text"] == "Great film. Loved it."
    assert dataset[0]["rating"] == 9 and dataset[0]["label"] == "pos"
    raw = read_jsonl(fixtures_dir / "imdb_sample.jsonl", strip_html=False, cache_dir=hf_cache)
    assert raw[1]["text"] == "Dull.<br />Avoid."


def test_jsonl_text_field_and_numeric_labels(tmp_path: Path, hf_cache: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"review": "good", "label": 1}\n{"review": "bad", "label": 0}\n')
    dataset = read_jsonl(path, text_field="review", cache_dir=hf_cache)
    assert dataset["text"] == ["good", "bad"]
    assert dataset["label"] == ["1", "0"]


def test_text_lines(fixtures_dir: Path, hf_cache: Path) -> None:
    dataset = read_text_lines(fixtures_dir / "unsup_sample.txt", cache_dir=hf_cache)
    assert dataset["text"] == ["First review.<br /><br />More text.", "Second review ."]
    stripped = read_text_lines(fixtures_dir / "unsup_sample.txt", strip_html=True, cache_dir=hf_cache)
    assert stripped[0]["text"] == "First review. More text."


def test_parallel_gzip_pair(fixtures_dir: Path, tmp_path: Path, hf_cache: Path) -> None:
    src = _gzip(fixtures_dir / "parallel.de", tmp_path / "train.de.gz")
    tgt = _gzip(fixtures_dir / "parallel.en", tmp_path / "train.en.gz")
    dataset = read_parallel(src, tgt, cache_dir=hf_cache)
    assert dataset.column_names == ["src", "tgt"]
    assert dataset[0] == {"src": "Ein Hund läuft .", "tgt": "A dog runs ."}
    assert len(dataset) == 3


@pytest.mark.parametrize("swap", [False, True])
def test_parallel_length_mismatch_names_both_files(fixtures_dir: Path, hf_cache: Path, swap: bool) -> None:
    long, short = fixtures_dir / "parallel.de", fixtures_dir / "parallel_short.en"
    src, tgt = (short, long) if swap else (long, short)
    with pytest.raises(InputError) as caught:
        read_parallel(src, tgt, cache_dir=hf_cache, skip_invalid=True)
    message = str(caught.value)
    assert f"{long} has 3 lines" in message and f"{short} has 2 lines" in message


def test_parallel_empty_side_is_invalid(fixtures_dir: Path, hf_cache: Path) -> None:
    src, tgt = fixtures_dir / "parallel.de", fixtures_dir / "parallel_gap.en"
    with pytest.raises(InputError, match="empty target sentence") as caught:
        read_parallel(src, tgt, cache_dir=hf_cache)
    assert caught.value.line == 2
    dataset = read_parallel(src, tgt, cache_dir=hf_cache, skip_invalid=True)
    assert dataset["tgt"] == ["A dog runs .", "A woman sings ."]
    assert read_stats(dataset).skipped == 1


def test_wikiextractor_drops_title_line_and_blank_paragraphs(fixtures_dir: Path, hf_cache: Path) -> None:
    dataset = read_wikiextractor(fixtures_dir / "wiki_sample.txt", cache_dir=hf_cache)
    assert dataset.column_names == ["text", "doc_id", "title"]
    assert dataset["text"] == [
        "Anarchism is a political philosophy.",
        "History.",
        'The term "anarchism" is old.',
        "Autism is a disorder.",
    ]
    assert dataset["doc_id"] == ["12", "12", "12", "25"]
    assert dataset[3]["title"] == "Autism &quot;test&quot;"


def test_wikiextractor_several_shards(fixtures_dir: Path, tmp_path: Path, hf_cache: Path) -> None:
    second = _gzip(fixtures_dir / "wiki_sample.txt", tmp_path / "wiki_AB.txt.gz")
    dataset = read_wikiextractor([fixtures_dir / "wiki_sample.txt", second], cache_dir=hf_cache)
    assert len(dataset) == 8


def test_wikiextractor_broken_documents(fixtures_dir: Path, hf_cache: Path, caplog) -> None:
    path = fixtures_dir / "wiki_bad.txt"
    with pytest.raises(InputError, match="text outside <doc>") as caught:
        read_wikiextractor(path, cache_dir=hf_cache)
    assert caught.value.line == 6
    with caplog.at_level(logging.WARNING, logger="nlp_rnn"):
        dataset = read_wikiextractor(path, cache_dir=hf_cache, skip_invalid=True)
    assert dataset["text"] == ["First paragraph.", "Third paragraph."]
    assert read_stats(dataset).skipped == 2  # the stray line and the unclosed document
    assert f"skipped 2 invalid records in {path}" in caplog.text


# --------------------------------------------------------------------------- errors and skipping


@pytest.mark.parametrize(
    ("reader", "name", "line", "column", "message"),
    [
        (read_label_text, "sst_empty_text.txt", 2, 2, "label '0' has no text"),
        (read_label_text, "sst_no_label.txt", 2, 1, "found no label"),
        (read_tsv, "phrases_bad.tsv", 3, 14, "expected 2 tab-separated fields, found 1"),
        (read_trec, "trec_bad.txt", 2, 1, "expected LABEL:subtype text"),
        (read_jsonl, "imdb_bad.jsonl", 2, 58, "invalid JSON"),
        (read_conllu, "bad_spaces.conllu", 5, 2, "spaces instead of tabs"),
        (read_conllu, "bad_columns.conllu", 5, 26, "found 8"),
        (read_conllu, "bad_id.conllu", 6, 1, "is not an integer"),
    ],
)
def test_invalid_records_raise_located_errors(
    fixtures_dir: Path, hf_cache: Path, reader, name: str, line: int, column: int, message: str
) -> None:
    path = fixtures_dir / name
    with pytest.raises(InputError) as caught:
        reader(path, cache_dir=hf_cache)
    error = caught.value
    assert message in error.problem
    assert (Path(error.path), error.line, error.column) == (path, line, column)
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    ("reader", "name", "kept", "skipped"),
    [
        (read_label_text, "sst_empty_text.txt", 2, 1),
        (read_tsv, "phrases_bad.tsv", 2, 2),
        (read_trec, "trec_bad.txt", 2, 2),
        (read_jsonl, "imdb_bad.jsonl", 2, 4),
        (read_conllu, "bad_spaces.conllu", 2, 1),
        (read_conllu, "bad_id.conllu", 2, 1),
    ],
)
def test_skip_invalid_counts_and_reports(
    fixtures_dir: Path, hf_cache: Path, caplog, reader, name: str, kept: int, skipped: int
) -> None:
    path = fixtures_dir / name
    with caplog.at_level(logging.WARNING, logger="nlp_rnn"):
        dataset = reader(path, cache_dir=hf_cache, skip_invalid=True)
    assert len(dataset) == kept
    stats = read_stats(dataset)
    assert stats.records == kept and stats.skipped == skipped
    assert stats.skipped_by_file == {str(path.resolve()): skipped}
    assert len(stats.problems) == skipped and stats.problems[0].startswith(str(path.resolve()))
    assert f"skipped {skipped} invalid records in" in caplog.text


def test_skip_counts_survive_a_cached_load(fixtures_dir: Path, hf_cache: Path, caplog) -> None:
    path = fixtures_dir / "trec_bad.txt"
    first = read_trec(path, cache_dir=hf_cache, skip_invalid=True)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nlp_rnn"):
        second = read_trec(path, cache_dir=hf_cache, skip_invalid=True)
    assert second.cache_files == first.cache_files
    assert read_stats(second) == read_stats(first)
    assert "skipped 2 invalid records" in caplog.text


def test_everything_skipped_gives_an_empty_dataset(tmp_path: Path, hf_cache: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_text("1\n0\n")
    dataset = read_label_text(path, cache_dir=hf_cache, skip_invalid=True)
    assert len(dataset) == 0 and dataset.column_names == ["text", "label"]
    assert read_stats(dataset).skipped == 2


@pytest.mark.parametrize(
    "reader",
    [read_label_text, read_tsv, read_trec, read_jsonl, read_text_lines, read_conllu, read_wikiextractor],
)
def test_empty_file_is_an_error(fixtures_dir: Path, hf_cache: Path, reader) -> None:
    with pytest.raises(InputError, match="empty") as caught:
        reader(fixtures_dir / "empty.txt", cache_dir=hf_cache, skip_invalid=True)
    assert caught.value.path.endswith("empty.txt")


def test_missing_file(tmp_path: Path, hf_cache: Path) -> None:
    with pytest.raises(InputError, match="file not found") as caught:
        read_text_lines(tmp_path / "nope.txt", cache_dir=hf_cache)
    assert caught.value.path == str(tmp_path / "nope.txt")


def test_undecodable_bytes_suggest_encoding(fixtures_dir: Path, hf_cache: Path) -> None:
    path = fixtures_dir / "undecodable.txt"
    with pytest.raises(InputError, match="--encoding"):
        read_label_text(path, cache_dir=hf_cache)
    dataset = read_label_text(path, encoding="latin-1", cache_dir=hf_cache)
    assert dataset[1]["text"] == "café au lait"


# --------------------------------------------------------------------------- caching


def test_second_call_loads_from_cache_without_parsing(
    tmp_path: Path, hf_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("one\ntwo\n")
    first = read_text_lines(path, cache_dir=hf_cache)

    def fail(*args, **kwargs):
        raise AssertionError("parsed again although the file did not change")

    monkeypatch.setitem(readers._PARSERS, "lines", fail)
    second = read_text_lines(path, cache_dir=hf_cache)
    assert second.cache_files == first.cache_files
    assert second["text"] == ["one", "two"]


def test_changed_file_is_read_again(tmp_path: Path, hf_cache: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("one\ntwo\n")
    assert read_text_lines(path, cache_dir=hf_cache)["text"] == ["one", "two"]
    path.write_text("three\n")
    later = os.stat(path).st_mtime_ns + 2_000_000_000
    os.utime(path, ns=(later, later))
    assert read_text_lines(path, cache_dir=hf_cache)["text"] == ["three"]


def test_options_are_part_of_the_cache_key(fixtures_dir: Path, hf_cache: Path) -> None:
    path = fixtures_dir / "unsup_sample.txt"
    raw = read_text_lines(path, cache_dir=hf_cache)
    stripped = read_text_lines(path, strip_html=True, cache_dir=hf_cache)
    assert raw.cache_files != stripped.cache_files
    assert raw[0]["text"] != stripped[0]["text"]


def test_split_name_is_set(fixtures_dir: Path, hf_cache: Path) -> None:
    dataset = read_label_text(fixtures_dir / "sst_sample.txt", cache_dir=hf_cache, split="dev")
    assert str(dataset.split) == "dev"


# --------------------------------------------------------------------------- real corpora


@pytest.mark.parametrize(("split", "rows"), [("train", 12_544), ("dev", 2_001)], ids=["ewt-train", "ewt-dev"])
def test_real_ewt(corpora_dir: Path, hf_cache: Path, split: str, rows: int) -> None:
    dataset = read_conllu(corpora_dir / "ud_english_ewt" / f"en_ewt-ud-{split}.conllu", cache_dir=hf_cache)
    assert len(dataset) == rows
    batch = dataset[:50]
    for tokens, upos, xpos in zip(batch["tokens"], batch["upos"], batch["xpos"], strict=True):
        assert len(tokens) == len(upos) == len(xpos) > 0


@pytest.mark.parametrize(("name", "rows"), [("train", 6_920), ("dev", 872)])
def test_real_sst(corpora_dir: Path, hf_cache: Path, name: str, rows: int) -> None:
    dataset = read_label_text(corpora_dir / "sst2" / f"stsa.binary.{name}", cache_dir=hf_cache)
    assert len(dataset) == rows and set(dataset["label"]) == {"0", "1"}


def test_real_glue_phrases(corpora_dir: Path, hf_cache: Path) -> None:
    dataset = read_tsv(corpora_dir / "sst2" / "glue_train_phrases.tsv.gz", cache_dir=hf_cache)
    assert len(dataset) == 67_349 and dataset.column_names == ["text", "label"]


@pytest.mark.parametrize(("prefix", "rows"), [("train", 29_000), ("val", 1_014)])
def test_real_multi30k(corpora_dir: Path, hf_cache: Path, prefix: str, rows: int) -> None:
    folder = corpora_dir / "multi30k"
    dataset = read_parallel(folder / f"{prefix}.de.gz", folder / f"{prefix}.en.gz", cache_dir=hf_cache)
    assert len(dataset) == rows


@pytest.mark.parametrize(
    ("article", "title", "rows"),
    [
        ("train.article.txt.gz", "train.title.txt.gz", 10_000),
        ("valid.article.filter.txt.gz", "valid.title.filter.txt.gz", 1_000),
    ],
)
def test_real_gigaword(corpora_dir: Path, hf_cache: Path, article: str, title: str, rows: int) -> None:
    folder = corpora_dir / "gigaword"
    assert len(read_parallel(folder / article, folder / title, cache_dir=hf_cache)) == rows


def test_real_imdb(corpora_dir: Path, hf_cache: Path) -> None:
    dataset = read_jsonl(corpora_dir / "imdb" / "train.jsonl.gz", cache_dir=hf_cache)
    assert len(dataset) == 25_000
    assert not any("<br" in text for text in dataset[:200]["text"])


def test_real_mr_is_latin1(corpora_dir: Path, hf_cache: Path) -> None:
    folder = corpora_dir / "sentence_classification"
    files = {"pos": folder / "rt-polarity.pos", "neg": folder / "rt-polarity.neg"}
    dataset = read_label_files(files, encoding="latin-1", cache_dir=hf_cache)
    assert len(dataset) == 10_662


@pytest.mark.slow
def test_real_wikipedia_all_shards(corpora_dir: Path, hf_cache: Path) -> None:
    shards = sorted((corpora_dir / "wikipedia_en").glob("enwiki-*.txt.gz"))
    dataset = read_wikiextractor(shards, cache_dir=hf_cache)
    assert len(dataset) == 604_220
