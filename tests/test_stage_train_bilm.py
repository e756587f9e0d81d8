"""The ``train_bilm`` stage on the demo sentiment corpus, ``lm-perplexity`` on its model, and a
classifier started from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp_rnn.api import load_model
from nlp_rnn.cli import main
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.pipeline import load_pipeline, run_pipeline
from nlp_rnn.tasks.bidirectional_lm import BidirectionalLMPredictor

pytestmark = pytest.mark.usefixtures("one_thread")
DEMO = Path(__file__).resolve().parent.parent / "corpora" / "demo"


def pipeline(folder: Path, train_file: Path = DEMO / "sentiment.train.txt", classify_from: str = "") -> Path:
    text = f"""
name: bilm_test
seed: 3
stages:
  data:
    kind: corpus
    format: label_text
    splits: {{train: {train_file}, dev: {DEMO / "sentiment.dev.txt"}}}
  tokens:
    kind: tokenize
    input: data
    tokenizer: {{kind: regex, lowercase: true}}
"""
    if classify_from:
        text += f"""  train:
    kind: train_classifier
    input: tokens
    init_from: {classify_from}
    embedding: {{dim: 8}}
    model: {{hidden_size: 8}}
    trainer: {{lr: 0.02, batch_size: 32, max_epochs: 1, tensorboard: false, plot: false}}
"""
    else:
        text += """  lm:
    kind: train_bilm
    input: tokens
    min_freq: 2
    dev_fraction: 0.1
    chunk_length: 8
    embedding: {dim: 8}
    model: {hidden_size: 8, output_words: 40, cutoffs: [10], div_value: 2.0}
    trainer: {lr: 0.02, batch_size: 16, max_epochs: 2, tensorboard: false, plot: false}
"""
    path = folder / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_stage_trains_a_language_model_a_classifier_starts_from(tmp_path: Path) -> None:
    lm_run = run_pipeline(load_pipeline(pipeline(tmp_path)), tmp_path / "lm")
    metrics = lm_run.metrics
    assert metrics["lm.train.chunks"] > 300 and metrics["lm.dev.chunks"] > 30
    assert 1 < metrics["lm.dev.ppl"] < metrics["lm.vocab_size"]  # better than a uniform guess
    assert metrics["lm.output_words"] == min(40, metrics["lm.vocab_size"])
    language_model = load_model(tmp_path / "lm" / "model")
    assert isinstance(language_model, BidirectionalLMPredictor)
    held_out = language_model.perplexity(["what a wonderful film !"])
    assert held_out["tokens"] == 4
    texts = tmp_path / "texts.txt"
    texts.write_text("what a wonderful film !\n\nthe plot is not good .\n", encoding="utf-8")
    command = ["lm-perplexity", "--model", str(tmp_path / "lm" / "model"), "--input", str(texts)]
    result = CliRunner().invoke(main, [*command, "--json"])
    assert result.exit_code == 0, result.output
    expected = language_model.perplexity(["what a wonderful film !", "the plot is not good ."], block=1)
    assert json.loads(result.output) == pytest.approx(expected)
    labelled = CliRunner().invoke(main, [*command, "--label", "pos"])
    assert labelled.exit_code == 1 and "takes no labels" in labelled.output
    heldout = tmp_path / "lm" / "stages" / "lm" / "heldout.txt"
    again = CliRunner().invoke(main, [*command[:3], "--input", str(heldout), "--json"])
    assert again.exit_code == 0, again.output
    scores = json.loads(again.output)
    for name in ("ppl", "ppl_forward", "ppl_backward"):
        assert scores[name] == pytest.approx(metrics[f"lm.dev.{name}"], abs=1e-3)

    folder = str(tmp_path / "lm" / "model")
    classifier_run = run_pipeline(load_pipeline(pipeline(tmp_path, classify_from=folder)), tmp_path / "clf")
    copied = classifier_run.metrics["train.init_from.words_copied"]
    assert copied == len(language_model.vocab)  # its vocabulary: min_freq 2 of the same rows
    assert load_model(tmp_path / "clf" / "model").predict(["a wonderful film"])


def test_text_without_two_token_chunks_is_a_clear_error(tmp_path: Path) -> None:
    single = tmp_path / "single.txt"
    single.write_text("".join(f"pos word{i}\n" for i in range(20)), encoding="utf-8")
    with pytest.raises(NlpRnnError, match="no chunk of two or more tokens to train on"):
        run_pipeline(load_pipeline(pipeline(tmp_path, single)), tmp_path / "run")
