"""The ``teacher_translations`` stage (sequence-level distillation data) and a student trained on it."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from demo_translation import DEMO_PARALLEL_STAGE, TINY_TRANSLATOR_MODEL

from nlp_rnn.api import load_model
from nlp_rnn.errors import ConfigError, NlpRnnError
from nlp_rnn.pipeline import load_pipeline, run_pipeline
from nlp_rnn.stages import teacher_translations


def translator(input: str, epochs: int) -> str:
    """A train_translator stage's settings (after its name) reading the stage ``input``."""
    return f"""
    kind: train_translator
    input: {input}
    source_lang: en
    target_lang: xx
    subwords: {{vocab_size: 200}}
    model: {TINY_TRANSLATOR_MODEL}
    trainer: {{lr: 0.01, max_tokens: 1024, max_epochs: {epochs}, tensorboard: false, plot: false}}
    decoding: {{beam_size: 3, greedy: false}}
    attention_plots: 0
"""


def write(folder: Path, name: str, stages: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\nseed: {len(name)}\nstages:\n{stages}", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def teachers(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two teachers of the same subwords (the same data and subword settings), other seeds."""
    folder = tmp_path_factory.mktemp("teachers")
    runs = []
    for name in ("teacher_a", "teacher_bb"):
        stages = DEMO_PARALLEL_STAGE + "  translate:" + translator("data", epochs=4)
        run_pipeline(load_pipeline(write(folder, name, stages)), folder / name)
        runs.append(folder / name / "model")
    return runs


def distill(folder: Path, teachers: list[Path], epochs: int = 2, **settings: object) -> Path:
    stage = {"kind": "teacher_translations", "input": "data", "teachers": [str(t) for t in teachers]}
    stages = DEMO_PARALLEL_STAGE + f"  distilled: {json.dumps({**stage, 'beam_size': 3, **settings})}\n"
    stages += "  student:" + translator("distilled", epochs=epochs)
    run_pipeline(load_pipeline(write(folder, "student", stages)), folder / "run")
    return folder / "run"


def test_split_holds_the_teachers_translations(teachers: list[Path], tmp_path: Path) -> None:
    run = distill(tmp_path, teachers[:1])
    stage = run / "stages" / "distilled"
    train = datasets.load_from_disk(str(stage / "splits" / "train"))
    original = datasets.load_from_disk(str(run / "stages" / "data" / "splits" / "train"))
    assert train["src"] == original["src"]
    teacher = load_model(teachers[0])
    expected = [t.text for t in teacher.translate(original["src"][:40], beam_size=3)]
    assert train["tgt"][:40] == expected  # blocks and batches do not change a sentence's output
    assert train["tgt"] != original["tgt"]
    dev = datasets.load_from_disk(str(stage / "splits" / "dev"))
    reference = datasets.load_from_disk(str(run / "stages" / "data" / "splits" / "dev"))
    assert dev["tgt"] == reference["tgt"]  # the student is judged on the human references
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["distilled.train.rows"] == len(original) and metrics["distilled.teachers"] == 1
    assert 0 < metrics["distilled.teacher.bleu"] <= 100
    assert metrics["distilled.teacher.scored_rows"] == len(original)
    assert metrics["distilled.teacher.words"] == sum(len(text.split()) for text in train["tgt"])
    assert metrics["student.dev.bleu"] > 0  # the student trained on the stage's split


def test_ensemble_of_teachers_and_originals_kept(
    teachers: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(teacher_translations, "SCORED", 10)  # scored on the first 10 pairs only
    run = distill(tmp_path, teachers, epochs=1, keep_original=True, beam_size=1)
    train = datasets.load_from_disk(str(run / "stages" / "distilled" / "splits" / "train"))
    original = datasets.load_from_disk(str(run / "stages" / "data" / "splits" / "train"))
    rows = len(original)
    assert len(train) == 2 * rows
    assert train["tgt"][rows:] == original["tgt"] and train["src"][:rows] == original["src"]
    ensemble = load_model(teachers[0]).ensembled([load_model(teachers[1])])
    expected = [t.text for t in ensemble.translate(original["src"][:20], beam_size=1)]
    assert train["tgt"][:20] == expected
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["distilled.teachers"] == 2 and metrics["distilled.train.rows"] == 2 * rows
    assert metrics["distilled.teacher.scored_rows"] == 10


def test_a_missing_teacher_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="train the teacher translators first"):
        distill(tmp_path, [tmp_path / "no_such_model"])


def test_a_teacher_that_is_no_translator(tmp_path: Path, tiny_tagger: Path) -> None:
    with pytest.raises(NlpRnnError, match="is a tagging model, not a translator"):
        distill(tmp_path, [tiny_tagger])
    assert not (tmp_path / "run" / "stages" / "distilled").exists()  # no half-written stage
