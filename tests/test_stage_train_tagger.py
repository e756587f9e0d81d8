"""The ``train_tagger`` stage on the demo treebank, with tiny models and few epochs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp_rnn.api import load_model
from nlp_rnn.errors import ConfigError, NlpRnnError
from nlp_rnn.pipeline import load_pipeline, run_pipeline

DEMO = Path(__file__).resolve().parent.parent / "corpora" / "demo"

PIPELINE = f"""
name: tagger_test
seed: 3
stages:
  data:
    kind: corpus
    format: conllu
    splits:
      train: {DEMO / "tagged.train.conllu"}
      dev: {DEMO / "tagged.dev.conllu"}
  train:
    kind: train_tagger
    input: data
    model: {{word_dim: 8, char_dim: 4, char_filters: 8, hidden_size: 8, num_layers: 1}}
    trainer: {{lr: 0.02, batch_size: 16, max_epochs: 2, tensorboard: false, plot: false}}
"""


def write_pipeline(folder: Path) -> Path:
    path = folder / "pipeline.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    return path


def test_stage_outputs_and_metrics(tiny_tagger: Path) -> None:
    stage = tiny_tagger.parent / "stages" / "tagger"
    metrics = json.loads((tiny_tagger.parent / "metrics.json").read_text())
    for key in ("dev.upos_accuracy", "dev.xpos_accuracy", "dev.unseen_words", "train_seconds", "best_step"):
        assert f"tagger.{key}" in metrics
    assert metrics["tagger.dev.upos_accuracy"] > 0.5
    report = json.loads((stage / "evaluation" / "report.json").read_text())
    assert report["upos"]["labels"] and report["xpos"]["labels"]
    assert (stage / "evaluation" / "confusion_upos.png").is_file()
    predictions = (stage / "evaluation" / "dev.pred.conllu").read_text(encoding="utf-8")
    assert predictions.count("\n\n") == (DEMO / "tagged.dev.conllu").read_text(encoding="utf-8").count("\n\n")
    samples = (stage / "samples.txt").read_text(encoding="utf-8").split()
    assert [pair.split("/")[0] for pair in samples] == ["I", "book", "a", "table", "."]
    saved = json.loads((tiny_tagger / "metrics.json").read_text())
    assert saved["upos_accuracy"] == pytest.approx(metrics["tagger.dev.upos_accuracy"], abs=1e-6)


def test_vectors_fill_the_pretrained_table_and_upos_only(tmp_path: Path) -> None:
    vectors = tmp_path / "vectors.txt"
    words = ["the", "book", "table", "reads", "zebra"]
    vectors.write_text(
        f"{len(words)} 3\n" + "".join(f"{w} {i} 0.5 -0.5\n" for i, w in enumerate(words)), encoding="utf-8"
    )
    overrides = [
        f"stages.train.vectors={vectors}",
        "stages.train.pretrained_words=2",
        "stages.train.xpos=null",
    ]
    result = run_pipeline(load_pipeline(write_pipeline(tmp_path), overrides), tmp_path / "run")
    assert "train.dev.xpos_accuracy" not in result.metrics
    folder = tmp_path / "run" / "model"
    itos = json.loads((folder / "pretrained.json").read_text())["itos"]
    assert itos[:4] == ["<pad>", "<unk>", "the", "book"]  # the 2 most frequent vectors ...
    assert itos[4:] == ["reads"] and "zebra" not in itos  # ... plus training words that have one
    tagged = load_model(folder).tag([["the", "zebra"]])[0]
    assert tagged.xpos is None and len(tagged.upos) == 2


def test_missing_columns_and_bad_settings_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(NlpRnnError, match="has no column 'lemma'"):
        run_pipeline(load_pipeline(write_pipeline(tmp_path), ["stages.train.upos=lemma"]), tmp_path / "run")
    with pytest.raises(ConfigError, match="odd"):
        load_pipeline(write_pipeline(tmp_path), ["stages.train.model.char_widths=[2]"])
    with pytest.raises(ConfigError, match="not found"):
        pipeline = load_pipeline(write_pipeline(tmp_path), [f"stages.train.vectors={tmp_path / 'none.txt'}"])
        run_pipeline(pipeline, tmp_path / "run2")


def test_crf_tagger_trains_saves_and_tags_with_viterbi(tmp_path: Path) -> None:
    overrides = ["stages.train.model.crf=true", "stages.train.trainer.max_epochs=3"]
    result = run_pipeline(load_pipeline(write_pipeline(tmp_path), overrides), tmp_path / "run")
    assert result.metrics["train.dev.upos_accuracy"] > 0.4
    predictor = load_model(tmp_path / "run" / "model")
    assert predictor.model.upos_crf is not None and predictor.model.xpos_crf is not None
    sentences = [["I", "book", "a", "table", "."], ["the", "film", "is", "good"], ["Read", "it"]]
    together = predictor.tag(sentences)
    alone = [predictor.tag([s])[0] for s in sentences]
    assert [s.upos for s in together] == [s.upos for s in alone]
    assert [len(s.upos) for s in together] == [5, 4, 2]
    low = predictor.tag(sentences, precision="bf16")
    pairs = [(a, b) for x, y in zip(together, low, strict=True) for a, b in zip(x.upos, y.upos, strict=True)]
    agree = sum(a == b for a, b in pairs)
    assert agree >= 10
