"""The ``train_classifier`` stage on the demo sentiment corpus, with tiny models and two epochs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from nlp_rnn.api import load_model
from nlp_rnn.errors import ConfigError, NlpRnnError
from nlp_rnn.pipeline import load_pipeline, run_pipeline
from nlp_rnn.stages.train_classifier import hold_out

DEMO = Path(__file__).resolve().parent.parent / "corpora" / "demo"

PIPELINE = f"""
name: classifier_test
seed: 3
stages:
  data:
    kind: corpus
    format: label_text
    splits:
      train: {DEMO / "sentiment.train.txt"}
      dev: {DEMO / "sentiment.dev.txt"}
  tokens:
    kind: tokenize
    input: data
    tokenizer: {{kind: regex, lowercase: true}}
  words:
    kind: vocab
    input: tokens
  labels:
    kind: vocab
    input: data
    column: label
    labels: true
  train:
    kind: train_classifier
    input: tokens
    vocab: words
    labels: labels
    model_folder: sentiment
    embedding: {{dim: 8}}
    model: {{hidden_size: 8, pooling: max}}
    trainer: {{lr: 0.02, batch_size: 32, max_epochs: 2, tensorboard: false, plot: false}}
    mistakes: 5
    samples: [what a wonderful film !, the plot is not good .]
"""


def write_pipeline(folder: Path, text: str = PIPELINE) -> Path:
    path = folder / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_trains_evaluates_and_writes_a_model_folder(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path)
    result = run_pipeline(load_pipeline(path), tmp_path / "run")
    metrics = result.metrics
    for key in ("dev.accuracy", "dev.macro_f1", "dev.loss", "train_seconds", "parameters", "best_step"):
        assert f"train.{key}" in metrics
    assert metrics["train.train.examples"] == 400 and metrics["train.dev.examples"] == 100
    assert 0.0 <= metrics["train.dev.accuracy"] <= 1.0

    stage = tmp_path / "run" / "stages" / "train"
    assert {p.name for p in (stage / "evaluation").iterdir()} == {
        "report.json",
        "confusion.png",
        "mistakes.tsv",
    }
    report = json.loads((stage / "evaluation" / "report.json").read_text())
    assert report["examples"] == 100 and report["accuracy"] == pytest.approx(metrics["train.dev.accuracy"])
    assert len((stage / "samples.tsv").read_text().splitlines()) == 3  # header + 2 samples
    assert (stage / "train" / "best" / "config.json").is_file()  # checkpoints are model folders too

    folder = tmp_path / "run" / "model" / "sentiment"
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "labels.json", "metrics.json", "model.safetensors", "tokenizer", "vocab.json",
    ]  # fmt: skip
    config = json.loads((folder / "config.json").read_text())
    assert config["task"] == "classification" and config["labels"] == ["0", "1"]
    predictor = load_model(folder)
    assert predictor.predict(["What a WONDERFUL film!"])[0] in {"0", "1"}  # the saved tokenizer lowercases

    again = run_pipeline(load_pipeline(path), tmp_path / "run")
    assert [o.status for o in again.outcomes][-1] == "reused"


def test_held_out_dev_one_hot_attention(tmp_path: Path) -> None:
    overrides = [
        "stages.train.vocab=null",
        "stages.train.labels=null",
        "stages.train.dev_split=null",
        "stages.train.dev_fraction=0.1",
        "stages.train.embedding.one_hot=true",
        "stages.train.model.pooling=attention",
        "stages.train.model.cell=gru",
        "stages.train.max_length=4",
        "stages.train.truncate=head_tail",
        "stages.train.samples=[]",
    ]
    result = run_pipeline(load_pipeline(write_pipeline(tmp_path), overrides), tmp_path / "run")
    assert result.metrics["train.dev.examples"] == 40 and result.metrics["train.train.examples"] == 360
    vocab = json.loads((tmp_path / "run" / "model" / "sentiment" / "vocab.json").read_text())
    assert vocab["specials"] == ["<pad>", "<unk>"]  # built here: no sentence markers
    config = json.loads((tmp_path / "run" / "model" / "sentiment" / "config.json").read_text())
    assert config["embedding_dim"] == len(vocab["itos"])  # one-hot: one dimension per word
    assert config["input"] == {"max_length": 4, "truncate": "head_tail"}


def test_word2vec_vectors_initialise_the_embedding(tmp_path: Path) -> None:
    vectors = tmp_path / "vectors.txt"
    words = ["the", "film", "movie", "good", "bad", "wonderful", "dull", "splendid", "dreary"]
    vectors.write_text(
        f"{len(words)} 4\n" + "".join(f"{w} {i} 0.5 -0.5 {i / 10}\n" for i, w in enumerate(words)),
        encoding="utf-8",
    )
    overrides = [
        f"stages.train.embedding.vectors={vectors}",
        "stages.train.embedding.freeze=true",
        "stages.train.extend_vocab=100",
    ]
    result = run_pipeline(load_pipeline(write_pipeline(tmp_path), overrides), tmp_path / "run")
    assert 0 < result.metrics["train.embedding.type_coverage"] < 1
    folder = tmp_path / "run" / "model" / "sentiment"
    config = json.loads((folder / "config.json").read_text())
    assert config["embedding_dim"] == 4
    # Words of the vectors that training never saw get rows of their own (the demo lacks these two).
    itos = json.loads((folder / "vocab.json").read_text())["itos"]
    assert result.metrics["train.vocab_from_vectors"] == 2 and itos[-2:] == ["splendid", "dreary"]


@pytest.mark.parametrize("adversarial_epsilon", [0.0, 0.25])  # 0.25: the SST-2 recipe's setting
def test_extended_rows_stay_fixed_while_training_words_fine_tune(
    tmp_path: Path, adversarial_epsilon: float
) -> None:
    vectors = tmp_path / "vectors.txt"
    words = ["the", "film", "movie", "good", "bad", "wonderful", "dull", "splendid", "dreary"]
    vectors.write_text(
        f"{len(words)} 4\n" + "".join(f"{w} {i} 0.5 -0.5 {i / 10}\n" for i, w in enumerate(words)),
        encoding="utf-8",
    )
    overrides = [
        f"stages.train.embedding.vectors={vectors}",
        "stages.train.extend_vocab=100",
        f"stages.train.model.adversarial_epsilon={adversarial_epsilon}",
    ]
    result = run_pipeline(load_pipeline(write_pipeline(tmp_path), overrides), tmp_path / "run")
    folder = tmp_path / "run" / "model" / "sentiment"
    config = json.loads((folder / "config.json").read_text())
    assert config["frozen_embedding_rows"] == result.metrics["train.vocab_from_vectors"] == 2
    assert config["model"]["adversarial_epsilon"] == adversarial_epsilon
    weights = load_file(str(folder / "model.safetensors"))
    # The two added words keep their vectors exactly; the trainable rows exclude them.
    assert torch.equal(weights["embedding.frozen"], torch.tensor([[7, 0.5, -0.5, 0.7], [8, 0.5, -0.5, 0.8]]))
    itos = json.loads((folder / "vocab.json").read_text())["itos"]
    assert weights["embedding.weight"].shape == (len(itos) - 2, 4)
    assert result.metrics["train.parameters"] == sum(
        t.numel() for name, t in weights.items() if name != "embedding.frozen"
    )
    model = load_model(folder)  # the saved folder rebuilds the split table
    probs = model.predict_proba(["splendid", "dreary"])
    assert not np.allclose(probs[0], probs[1])  # the fixed rows differ, so do the predictions


def test_hold_out_is_deterministic_and_disjoint() -> None:
    kept, held = hold_out(100, 0.1, seed=7)
    assert len(held) == 10 and sorted(kept + held) == list(range(100))
    assert hold_out(100, 0.1, seed=7) == (kept, held)
    assert hold_out(100, 0.1, seed=8)[1] != held
    with pytest.raises(NlpRnnError, match="leaves no training rows"):
        hold_out(1, 0.5, seed=0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["stages.train.dev_fraction=0.1"], "exactly one of dev_split and dev_fraction"),
        (["stages.train.dev_split=null", "stages.train.dev_fraction=0.1"], "leave vocab null"),
        (["stages.train.model.poolin=max"], "did you mean 'pooling'"),
        (["stages.train.trainer.lr=-1"], "stages.train.trainer.lr"),
        (["stages.train.model_folder=../elsewhere"], "relative folder name"),
        (["stages.train.extend_vocab=10"], "extend_vocab adds words from embedding.vectors"),
    ],
)
def test_bad_settings_are_config_errors(tmp_path: Path, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_pipeline(write_pipeline(tmp_path), overrides)


def test_missing_vectors_and_columns_are_named(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path)
    pipeline = load_pipeline(path, [f"stages.train.embedding.vectors={tmp_path / 'none.txt'}"])
    with pytest.raises(ConfigError, match="none.txt not found"):
        run_pipeline(pipeline, tmp_path / "run")
    pipeline = load_pipeline(path, ["stages.train.label=sentiment"])
    with pytest.raises(NlpRnnError, match="has no column 'sentiment'; it has"):
        run_pipeline(pipeline, tmp_path / "run")
