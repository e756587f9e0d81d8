"""Tests for nlp_rnn.text.corpus_ops: dataset tokenization, streaming counts, line corpora."""

from __future__ import annotations

import gzip
from collections import Counter

import datasets
import pytest

from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.text import corpus_ops
from nlp_rnn.text.corpus_ops import (
    count_file_tokens,
    count_tokens,
    is_wiki_markup,
    iter_file_texts,
    iter_text_batches,
    tokenize_dataset,
    write_line_corpus,
)
from nlp_rnn.text.tokenizers import RegexTokenizer, SpacyTokenizer, WhitespaceTokenizer

TEXTS = [f"Line {i}: the cat's {'big ' * (i % 4)}mat, isn't it?" for i in range(120)]
WIKI = (
    '<doc id="1" url="http://x" title="Cat">\nCat\n\nThe cat sat.\n</doc>\n'
    '<doc id="2" url="http://y" title="Dog">\nDog\nA dog ran, fast.\n</doc>\n'
)


def _expected(texts, tokenizer) -> Counter:
    return Counter(token for text in texts for token in tokenizer.tokenize(text))


class _Exploding(WhitespaceTokenizer):
    """Fails on a marked text, to check that worker errors reach the caller."""

    def count_into(self, counter, texts):
        if any("BOOM" in text for text in texts):
            raise InputError("boom found", "somewhere", 7)
        return super().count_into(counter, texts)


def test_tokenize_dataset_adds_a_tokens_column(hf_cache) -> None:
    ds = datasets.Dataset.from_dict({"text": ["Hi, you.", "", "don't"], "label": [1, 0, 1]})
    tokenized = tokenize_dataset(ds, RegexTokenizer(), batch_size=2)
    assert tokenized.column_names == ["text", "label", "tokens"]
    assert tokenized["tokens"] == [["Hi", ",", "you", "."], [], ["do", "n't"]]
    with pytest.raises(NlpRnnError, match="no column 'sentence'"):
        tokenize_dataset(ds, RegexTokenizer(), column="sentence")


def test_tokenize_dataset_in_two_processes(hf_cache) -> None:
    ds = datasets.Dataset.from_dict({"src": TEXTS})
    tokenizer = SpacyTokenizer("en")
    tokenized = tokenize_dataset(ds, tokenizer, column="src", output_column="src_tokens", num_proc=2)
    assert tokenized["src_tokens"] == tokenizer.tokenize_batch(TEXTS)


@pytest.mark.parametrize("num_proc", [None, 2])
def test_count_tokens_of_texts_and_datasets(num_proc) -> None:
    tokenizer = RegexTokenizer(lowercase=True)
    expected = _expected(TEXTS, tokenizer)
    assert count_tokens(TEXTS, tokenizer, num_proc=num_proc, batch_size=7) == expected
    ds = datasets.Dataset.from_dict({"text": TEXTS, "label": [0] * len(TEXTS)})
    assert count_tokens(ds, tokenizer, num_proc=num_proc, batch_size=7) == expected
    streamed = ds.to_iterable_dataset(num_shards=3)
    assert count_tokens(streamed, tokenizer, num_proc=num_proc, batch_size=7) == expected


def test_count_tokens_skip_line_and_spacy_in_workers() -> None:
    lines = WIKI.splitlines()
    tokenizer = SpacyTokenizer("en")
    counts = count_tokens(lines, tokenizer, num_proc=2, batch_size=2, skip_line=is_wiki_markup)
    assert counts == _expected([line for line in lines if not is_wiki_markup(line)], tokenizer)
    assert "doc" not in counts and counts["cat"] == 1


@pytest.mark.parametrize("num_proc", [None, 2])
@pytest.mark.parametrize("compressed", [False, True])
def test_count_file_tokens_in_small_blocks(tmp_path, num_proc, compressed) -> None:
    # Small blocks cut the file in many places; CRLF and a missing final newline included.
    content = "\r\n".join(TEXTS[:60]) + "\n" + "\n".join(TEXTS[60:]) + "\n" + WIKI + "last line"
    path = tmp_path / ("wiki.txt.gz" if compressed else "wiki.txt")
    raw = content.encode("utf-8")
    path.write_bytes(gzip.compress(raw) if compressed else raw)
    tokenizer = RegexTokenizer()
    kept = [line for line in content.split("\n") if not is_wiki_markup(line)]
    expected = _expected(kept, tokenizer)
    counts = count_file_tokens(
        [path, path], tokenizer, num_proc=num_proc, skip_line=is_wiki_markup, block_size=97
    )
    assert counts == Counter({token: 2 * n for token, n in expected.items()})
    assert "\r" not in "".join(counts)


@pytest.mark.parametrize("num_proc", [None, 2])
def test_count_file_tokens_reports_the_undecodable_line(tmp_path, num_proc) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(("ok line\n" * 50).encode() + b"caf\xe9\n" + b"more\n" * 50)
    with pytest.raises(InputError, match=r"bad.txt:51:4: cannot decode byte 0xe9 as utf-8"):
        count_file_tokens([path], WhitespaceTokenizer(), num_proc=num_proc, block_size=64)
    counts = count_file_tokens([path], WhitespaceTokenizer(), encoding="latin-1", num_proc=num_proc)
    assert counts["café"] == 1
    # The line readers report the same place, worded the same way.
    with pytest.raises(InputError, match=r"bad.txt:51:4: cannot decode byte 0xe9 as utf-8"):
        list(iter_file_texts([path]))


def test_count_file_tokens_other_encodings_and_errors(tmp_path) -> None:
    path = tmp_path / "utf16.txt"
    path.write_text("a b\nb c\n", encoding="utf-16")
    assert count_file_tokens([path], WhitespaceTokenizer(), encoding="utf-16") == Counter(a=1, b=2, c=1)
    with pytest.raises(NlpRnnError, match="unknown text encoding"):
        count_file_tokens([path], WhitespaceTokenizer(), encoding="klingon")
    with pytest.raises(InputError, match="file not found"):
        count_file_tokens([tmp_path / "missing.txt"], WhitespaceTokenizer(), num_proc=2)


def test_workers_flush_counts_midway(monkeypatch) -> None:
    # Workers hand over their counts whenever they hold _FLUSH_TYPES distinct tokens.
    monkeypatch.setattr(corpus_ops, "_FLUSH_TYPES", 3)
    tokenizer = RegexTokenizer()
    assert count_tokens(TEXTS, tokenizer, num_proc=2, batch_size=5) == _expected(TEXTS, tokenizer)


def test_worker_errors_reach_the_caller() -> None:
    texts = ["fine"] * 500 + ["BOOM"] + ["fine"] * 500
    with pytest.raises(InputError, match="somewhere:7: boom found"):
        count_tokens(texts, _Exploding(), num_proc=2, batch_size=10)


def test_iter_helpers(tmp_path) -> None:
    path = tmp_path / "w.txt"
    path.write_text(WIKI, encoding="utf-8")
    assert list(iter_file_texts([path], skip_line=is_wiki_markup)) == [
        "Cat", "", "The cat sat.", "Dog", "A dog ran, fast.",
    ]  # fmt: skip
    assert list(iter_text_batches(range(5), batch_size=2)) == [[0, 1], [2, 3], [4]]
    with pytest.raises(TypeError, match="single string"):
        list(iter_text_batches("abc"))


def test_write_line_corpus(tmp_path) -> None:
    out = tmp_path / "corpus.txt"
    assert write_line_corpus(["Hello, world!", "", "I'm here"], RegexTokenizer(), out, batch_size=2) == 3
    assert out.read_text(encoding="utf-8") == "Hello , world !\n\nI 'm here\n"
    ds = datasets.Dataset.from_dict({"tokens": [["a", "b"], ["c"]]})
    write_line_corpus(ds, None, out, column="tokens")
    assert out.read_text(encoding="utf-8") == "a b\nc\n"


def test_write_line_corpus_is_atomic(tmp_path) -> None:
    out = tmp_path / "corpus.txt"
    out.write_text("previous\n", encoding="utf-8")

    def texts():
        yield from ["one"] * 3000
        raise InputError("broken input", "in.txt", 3001)

    with pytest.raises(InputError, match="broken input"):
        write_line_corpus(texts(), WhitespaceTokenizer(), out)
    assert out.read_text(encoding="utf-8") == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["corpus.txt"]


def test_count_real_corpus(corpora_dir) -> None:
    # A small real file: SST-2 dev (872 tokenized, lowercased sentences).
    path = corpora_dir / "sst2" / "stsa.binary.dev"
    counts = count_file_tokens([path], WhitespaceTokenizer(), num_proc=2)
    serial = count_file_tokens([path], WhitespaceTokenizer())
    assert counts == serial
    assert counts["the"] > 500
