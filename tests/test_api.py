"""``nlp_rnn.api.load_model``: dispatch on the task a model folder records, and clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_task_classification import make_model_folder

from nlp_rnn.api import load_model
from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.tasks.classification import ClassificationPredictor


def test_loads_a_classifier_and_predicts(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "model")
    model = load_model(folder)
    assert isinstance(model, ClassificationPredictor)
    assert model.predict(["this movie is good"])[0] in {"neg", "pos"}
    assert model.predict_proba(["this movie is good", "bad"]).shape == (2, 2)


def test_unknown_task_names_the_tasks_it_knows(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "task": "speech_recognition"}))
    with pytest.raises(NlpRnnError, match="task 'speech_recognition'; this version of nlp-rnn loads"):
        load_model(folder)


def test_folders_without_a_model_say_so(tmp_path: Path) -> None:
    with pytest.raises(NlpRnnError, match="model folder not found"):
        load_model(tmp_path / "missing")
    make_model_folder(tmp_path / "run" / "model" / "sentiment")
    with pytest.raises(NlpRnnError, match="no config.json; it holds model folders: sentiment"):
        load_model(tmp_path / "run" / "model")


def test_broken_config_json_points_at_the_file(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "model")
    (folder / "config.json").write_text("{not json")
    with pytest.raises(InputError, match=r"config.json:1:2: invalid JSON"):
        load_model(folder)
    (folder / "config.json").write_text("[1, 2]")
    with pytest.raises(InputError, match='"task" string'):
        load_model(folder)
