"""Tests for nlp_rnn.data.corpus_info and the ``corpus info`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp_rnn.commands.corpus import corpus, parse_options
from nlp_rnn.data.corpus_info import corpus_info, format_corpus_info
from nlp_rnn.errors import ConfigError, InputError


def test_classification_counts(fixtures_dir: Path, hf_cache: Path) -> None:
    info = corpus_info(str(fixtures_dir / "sst_sample.txt"), format="label_text", cache_dir=hf_cache)
    assert info["splits"] == {
        "train": {"rows": 3, "skipped": 0, "tokens": 23, "labels": {"0": 1, "1": 2}},
    }


def test_conllu_counts_words_and_tag_sets(fixtures_dir: Path, hf_cache: Path) -> None:
    stats = corpus_info(str(fixtures_dir / "sample.conllu"), cache_dir=hf_cache)["splits"]["train"]
    assert stats["rows"] == 3
    assert stats["tokens"] == 4 + 5 + 3  # words only: no multiword tokens, no empty nodes
    assert stats["upos_tags"] == 8  # AUX PART VERB PUNCT PROPN CCONJ NOUN PRON
    assert stats["xpos_tags"] == 9


def test_parallel_counts_both_sides(fixtures_dir: Path, hf_cache: Path) -> None:
    info = corpus_info(
        str(fixtures_dir / "parallel.de"),
        format="parallel",
        target=str(fixtures_dir / "parallel.en"),
        cache_dir=hf_cache,
    )
    assert info["splits"]["train"] == {"rows": 3, "skipped": 0, "src_tokens": 11, "tgt_tokens": 11}


def test_trec_and_wiki_extras(fixtures_dir: Path, hf_cache: Path) -> None:
    trec = corpus_info(str(fixtures_dir / "trec_sample.txt"), format="trec", cache_dir=hf_cache)
    assert trec["splits"]["train"]["fine_labels"] == 3
    wiki = corpus_info(str(fixtures_dir / "wiki_sample.txt"), cache_dir=hf_cache)
    assert wiki["splits"]["train"]["documents"] == 2


def test_skipped_records_are_counted(fixtures_dir: Path, hf_cache: Path) -> None:
    info = corpus_info(str(fixtures_dir / "bad_id.conllu"), skip_invalid=True, cache_dir=hf_cache)
    assert info["splits"]["train"]["skipped"] == 1
    assert "skipped" in format_corpus_info(info)


def test_format_is_a_readable_table() -> None:
    info = {
        "source": "toy",
        "description": "a toy corpus",
        "splits": {
            "train": {"rows": 12345, "skipped": 0, "tokens": 1234567, "labels": {"neg": 5, "pos": 7}},
            "dev": {"rows": 10, "skipped": 0, "tokens": 99, "labels": {"neg": 1}},
        },
    }
    assert format_corpus_info(info).splitlines() == [
        "toy: a toy corpus",
        "split    rows     tokens",
        "train  12,345  1,234,567",
        "dev        10         99",
        "labels (train): neg=5  pos=7",
        "labels (dev): neg=1",
    ]


def test_parse_options() -> None:
    assert parse_options(("src_lang=fr", "strip_html=false")) == {"src_lang": "fr", "strip_html": False}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_options(("nonsense",))


def test_cli_info_on_a_file(fixtures_dir: Path, hf_cache: Path) -> None:
    args = [
        "info",
        str(fixtures_dir / "sst_sample.txt"),
        "--format",
        "label_text",
        "--cache-dir",
        str(hf_cache),
    ]
    result = CliRunner().invoke(corpus, args)
    assert result.exit_code == 0, result.output
    assert "train     3      23" in result.output
    assert "labels (train): 0=1  1=2" in result.output


def test_cli_info_json(fixtures_dir: Path, hf_cache: Path) -> None:
    args = ["info", str(fixtures_dir / "sample.conllu"), "--json", "--cache-dir", str(hf_cache)]
    result = CliRunner().invoke(corpus, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["splits"]["train"]["rows"] == 3


def test_cli_errors_are_user_errors(fixtures_dir: Path, hf_cache: Path) -> None:
    # the main CLI turns NlpRnnError into "error: ..."; the group itself lets it through
    args = ["info", str(fixtures_dir / "bad_id.conllu"), "--cache-dir", str(hf_cache)]
    result = CliRunner().invoke(corpus, args)
    assert isinstance(result.exception, InputError)
    assert "bad_id.conllu:6:1:" in str(result.exception)
    skipped = CliRunner().invoke(corpus, [*args, "--skip-invalid"])
    assert skipped.exit_code == 0, skipped.output


def test_cli_list() -> None:
    result = CliRunner().invoke(corpus, ["list"])
    assert result.exit_code == 0
    assert "ud_english_ewt" in result.output and "train,dev" in result.output


def test_real_sst2_info(corpora_dir: Path, hf_cache: Path) -> None:
    info = corpus_info("sst2", data_dir=corpora_dir, cache_dir=hf_cache)
    assert info["splits"]["train"]["rows"] == 6_920
    assert info["splits"]["dev"]["labels"] == {"0": 428, "1": 444}


def test_real_ewt_info(corpora_dir: Path, hf_cache: Path) -> None:
    stats = corpus_info("ud_english_ewt", "dev", data_dir=corpora_dir, cache_dir=hf_cache)["splits"]["dev"]
    assert (stats["rows"], stats["upos_tags"]) == (2_001, 17)
