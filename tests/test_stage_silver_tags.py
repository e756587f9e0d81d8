"""The ``silver_tags`` stage (teacher-tagged raw text) and ``train_tagger``'s ``extra_train``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
import numpy as np
import pytest
from script_module import load_script

from nlp_rnn.api import load_model
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.pipeline import load_pipeline, run_pipeline
from nlp_rnn.text.sentences import split_sentences

DEMO = Path(__file__).resolve().parent.parent / "corpora" / "demo"

TEXT = [
    "I book a table. The cat reads a book.",
    "Short one.",  # two words and a full stop: three words, kept with min_words 3
    "We saw the old man in the park yesterday and he said hello to all of us there.",
    "She reads.",
    "They book the rooms for the week. You read the table!",
]


def pipeline(folder: Path, teachers: list[Path], **silver: object) -> Path:
    text = folder / "raw.txt"
    text.write_text("\n".join(TEXT) + "\n", encoding="utf-8")
    settings = {"teachers": [str(t) for t in teachers], "sentences": 100, "min_words": 3, **silver}
    path = folder / "pipeline.yaml"
    path.write_text(
        f"""
name: silver_test
seed: 3
stages:
  data:
    kind: corpus
    format: conllu
    splits:
      train: {DEMO / "tagged.train.conllu"}
      dev: {DEMO / "tagged.dev.conllu"}
  raw:
    kind: corpus
    format: lines
    splits: {{train: {text}}}
  silver: {json.dumps({"kind": "silver_tags", "input": "raw", **settings})}
  train:
    kind: train_tagger
    input: data
    extra_train: [silver]
    model: {{word_dim: 8, char_dim: 4, char_filters: 8, hidden_size: 8, num_layers: 1}}
    trainer: {{lr: 0.02, batch_size: 16, max_epochs: 1, tensorboard: false, plot: false}}
""",
        encoding="utf-8",
    )
    return path


def silver_rows(run: Path) -> datasets.Dataset:
    return datasets.load_from_disk(str(run / "stages" / "silver" / "splits" / "train"))


def test_silver_sentences_carry_the_teachers_tags(tmp_path: Path, tiny_tagger: Path) -> None:
    # the same teacher twice: the averaged distribution has the teacher's own argmax
    result = run_pipeline(load_pipeline(pipeline(tmp_path, [tiny_tagger, tiny_tagger])), tmp_path / "run")
    rows = silver_rows(tmp_path / "run")
    expected = [s.words for text in TEXT for s in split_sentences(text) if 3 <= len(s.words) <= 60]
    assert sorted(map(tuple, rows["tokens"])) == sorted(map(tuple, expected))
    teacher = load_model(tiny_tagger)
    tagged = teacher.tag(rows["tokens"])
    assert rows["upos"] == [t.upos for t in tagged] and rows["xpos"] == [t.xpos for t in tagged]
    upos, _ = teacher.probabilities(rows["tokens"])
    first = upos[: len(rows["tokens"][0])]
    assert rows["confidence"][0] == pytest.approx(float(first.max(1).min()), abs=1e-6)
    assert np.allclose(upos.sum(1), 1, atol=1e-5)
    assert result.metrics["silver.teacher_agreement"] == 1.0
    assert result.metrics["silver.train.rows"] == len(expected)
    # the student trained on the gold sentences plus the silver ones
    gold = sum(1 for block in (DEMO / "tagged.train.conllu").read_text().split("\n\n") if block.strip())
    assert result.metrics["train.train.sentences"] == gold + len(expected)
    assert load_model(tmp_path / "run" / "model").tag([["She", "reads", "."]])[0].upos


def test_sentence_count_and_length_limits(tmp_path: Path, tiny_tagger: Path) -> None:
    path = pipeline(tmp_path, [tiny_tagger], sentences=2, max_words=6)
    run_pipeline(load_pipeline(path), tmp_path / "run", until="silver")
    rows = silver_rows(tmp_path / "run")
    assert len(rows) == 2 and all(3 <= len(tokens) <= 6 for tokens in rows["tokens"])


def test_teachers_must_exist_and_share_their_tag_sets(tmp_path: Path, tiny_tagger: Path) -> None:
    other = tmp_path / "other_tagger"
    shutil.copytree(tiny_tagger, other)
    upos = json.loads((other / "upos.json").read_text())
    upos["itos"][-2:] = upos["itos"][-1:-3:-1]  # two tags swapped
    (other / "upos.json").write_text(json.dumps(upos))
    with pytest.raises(NlpRnnError, match="other UPOS tags"):
        run_pipeline(
            load_pipeline(pipeline(tmp_path, [tiny_tagger, other])), tmp_path / "run", until="silver"
        )
    with pytest.raises(NlpRnnError, match="no sentence of 59 to 60 words in the 5 rows of 'raw'"):
        run_pipeline(
            load_pipeline(pipeline(tmp_path, [tiny_tagger], min_words=59)), tmp_path / "r", until="silver"
        )
    with pytest.raises(NlpRnnError, match="not found"):
        run_pipeline(load_pipeline(pipeline(tmp_path, [tmp_path / "missing"])), tmp_path / "run2")


def test_ensemble_script_scores_models_and_their_average(tiny_tagger: Path) -> None:
    script = load_script("ensemble_taggers")
    gold = DEMO / "tagged.dev.conllu"
    results = script.main([str(tiny_tagger), str(tiny_tagger), "--gold", str(gold)])
    alone = results[str(tiny_tagger)]
    assert 0.3 < alone["upos"] < 1 and set(alone) == {"upos", "xpos"}
    assert results["ensemble"] == pytest.approx(alone)  # the same model twice: the same tags
