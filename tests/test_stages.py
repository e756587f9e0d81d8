"""Tests for the preprocessing stages (corpus, tokenize, vocab) on the demo corpora."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp_rnn.errors import ConfigError, InputError, NlpRnnError
from nlp_rnn.pipeline import load_pipeline, run_pipeline
from nlp_rnn.stages.corpus import load_split, stage_splits
from nlp_rnn.text.tokenizers import load_tokenizer
from nlp_rnn.text.vocab import Vocab

DEMO = Path(__file__).resolve().parent.parent / "pipelines" / "demo.yaml"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("demo")
    run_pipeline(load_pipeline(DEMO), run_dir)
    return run_dir


def test_corpus_stage_writes_every_split(demo_run: Path) -> None:
    stage = demo_run / "stages" / "sentiment_data"
    assert stage_splits(stage) == ["train", "dev"]
    train = load_split(stage, "train")
    assert len(train) == 400
    assert set(train["label"]) == {"0", "1"}
    with pytest.raises(NlpRnnError, match="has no split 'test'; it has: train, dev"):
        load_split(stage, "test")


def test_parallel_corpus_from_files(demo_run: Path) -> None:
    dev = load_split(demo_run / "stages" / "translation_data", "dev")
    assert dev.column_names[:2] == ["src", "tgt"]
    assert dev[0]["src"].endswith(" .") and dev[0]["tgt"].endswith(" .")


def test_tokenize_stage_adds_columns_and_saves_tokenizer(demo_run: Path) -> None:
    stage = demo_run / "stages" / "sentiment_tokens"
    train = load_split(stage, "train")
    assert train[0]["tokens"] == train[0]["text"].lower().split()
    tokenizer = load_tokenizer(stage / "tokenizer")
    assert tokenizer.tokenize("The movie") == ["the", "movie"]


def test_sentencepiece_is_trained_in_the_stage(demo_run: Path) -> None:
    stage = demo_run / "stages" / "translation_subwords"
    tokenizer = load_tokenizer(stage / "tokenizer")
    row = load_split(stage, "dev")[0]
    assert tokenizer.tokenize(row["src"]) == row["src_tokens"]
    assert tokenizer.detokenize(row["tgt_tokens"]) == row["tgt"]
    metrics = json.loads((demo_run / "metrics.json").read_text())
    assert metrics["translation_subwords.dev.src_tokens"] >= len(row["src"].split())


def test_vocab_stages(demo_run: Path) -> None:
    words = Vocab.load(demo_run / "stages" / "sentiment_vocab" / "vocab.json")
    assert words.itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert "movie" in words
    labels = Vocab.load(demo_run / "stages" / "sentiment_labels" / "vocab.json")
    assert sorted(labels.itos) == ["0", "1"]
    upos = Vocab.load(demo_run / "stages" / "tagging_upos" / "vocab.json")
    assert {"NOUN", "VERB", "DET", "PUNCT"} <= set(upos.itos)
    metrics = json.loads((demo_run / "metrics.json").read_text())
    assert metrics["sentiment_vocab.size"] == len(words)
    assert 0.0 <= metrics["sentiment_vocab.dev.token_oov_rate"] <= 1.0


def test_vocab_reports_dev_oov(tmp_path: Path) -> None:
    run = run_pipeline(
        load_pipeline(DEMO, ["stages.sentiment_vocab.max_size=10"]), tmp_path, until="sentiment_vocab"
    )
    assert run.metrics["sentiment_vocab.size"] == 10
    assert run.metrics["sentiment_vocab.dev.token_oov_rate"] > 0.1


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    pipeline = load_pipeline(DEMO, ["stages.sentiment_vocab.column=words"])
    with pytest.raises(
        NlpRnnError, match="no column 'words' in 'sentiment_tokens'; it has text, label, tokens"
    ):
        run_pipeline(pipeline, tmp_path, until="sentiment_vocab")
    assert not (tmp_path / "stages" / "sentiment_vocab").exists()


def test_missing_corpus_file_is_a_clear_error(tmp_path: Path) -> None:
    pipeline = load_pipeline(DEMO, [f"stages.sentiment_data.splits.dev={tmp_path / 'nope.txt'}"])
    with pytest.raises(NlpRnnError, match="nope.txt: input file not found"):
        run_pipeline(pipeline, tmp_path / "run")


def test_bad_corpus_line_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("1 fine text\n0\n", encoding="utf-8")
    pipeline = load_pipeline(DEMO, [f"stages.sentiment_data.splits.dev={bad}"])
    with pytest.raises(InputError, match=r"bad.txt:2"):
        run_pipeline(pipeline, tmp_path / "run", until="sentiment_data")
    skipping = load_pipeline(
        DEMO, [f"stages.sentiment_data.splits.dev={bad}", "stages.sentiment_data.skip_invalid=true"]
    )
    result = run_pipeline(skipping, tmp_path / "run", until="sentiment_data")
    assert result.metrics["sentiment_data.dev.rows"] == 1
    assert result.metrics["sentiment_data.dev.skipped"] == 1


def test_targets_must_name_known_splits() -> None:
    with pytest.raises(ConfigError, match="targets name splits that `splits` does not: test"):
        load_pipeline(DEMO, ["stages.translation_data.targets.test=x"])


def test_tokenizer_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"stages.sentiment_tokens.tokenizer.kind"):
        load_pipeline(DEMO, ["stages.sentiment_tokens.tokenizer.kind=bert"])
    with pytest.raises(ConfigError, match=r"unknown key 'stages.sentiment_tokens.tokenizer.lowercse'"):
        load_pipeline(DEMO, ["stages.sentiment_tokens.tokenizer.lowercse=true"])


@pytest.mark.parametrize("path", sorted((Path(__file__).parent.parent / "pipelines").glob("*.yaml")))
def test_every_committed_pipeline_validates_with_the_registered_stage_kinds(
    path: Path, tmp_path: Path
) -> None:
    # Validation only (no corpus is read): a stage kind missing from STAGE_KINDS fails here.
    pipeline = load_pipeline(path, data_dir=tmp_path)
    assert pipeline.stages
