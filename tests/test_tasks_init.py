"""The model-folder helpers of :mod:`nlp_rnn.tasks` that every task's loader uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.models.classifier import ClassifierConfig
from nlp_rnn.tasks import MODEL_CONFIG_FILE, WEIGHTS_FILE, config_fields, require_files


def test_config_errors_become_an_input_error_naming_config_json(tmp_path: Path) -> None:
    config = {"model": {"no_such_field": 1}, "vocab_size": "many"}
    for read in (
        lambda: ClassifierConfig.model_validate(config["model"]),  # pydantic
        lambda: config["num_classes"],  # KeyError
        lambda: int(config["vocab_size"]),  # ValueError
    ):
        with pytest.raises(InputError) as caught:
            with config_fields(tmp_path, "classifier"):
                read()
        assert caught.value.path == str(tmp_path / MODEL_CONFIG_FILE)
        assert caught.value.problem.startswith("invalid classifier config: ")
        assert "\n" not in caught.value.problem  # the first line of the message only
        assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_config_fields_lets_nlp_rnn_errors_and_values_through(tmp_path: Path) -> None:
    error = NlpRnnError("already a user-facing message")
    with pytest.raises(NlpRnnError) as caught:
        with config_fields(tmp_path, "tagger"):
            raise error
    assert caught.value is error
    inner = InputError("bad value", tmp_path / "other.json", 3)
    with pytest.raises(InputError) as caught_input:
        with config_fields(tmp_path, "tagger"):
            raise inner
    assert caught_input.value is inner
    with config_fields(tmp_path, "tagger"):
        size = int("12")
    assert size == 12


def test_require_files_names_the_first_missing_one(tmp_path: Path) -> None:
    (tmp_path / "vocab.json").write_text("{}", encoding="utf-8")
    (tmp_path / "tokenizer").mkdir()
    require_files(tmp_path, "vocab.json", dirs=["tokenizer"])  # all there: no error
    expected = f"^{re.escape(str(tmp_path))}: the model folder lacks labels.json$"
    with pytest.raises(NlpRnnError, match=expected):
        require_files(tmp_path, "vocab.json", "labels.json", WEIGHTS_FILE, dirs=["tokenizer"])
    with pytest.raises(NlpRnnError, match="lacks source_tokenizer$"):
        require_files(tmp_path, "vocab.json", dirs=["tokenizer", "source_tokenizer"])


def test_require_files_wants_files_as_files_and_folders_as_folders(tmp_path: Path) -> None:
    (tmp_path / WEIGHTS_FILE).mkdir()  # a folder where the weights file should be
    (tmp_path / "tokenizer").write_text("", encoding="utf-8")  # a file where a folder should be
    with pytest.raises(NlpRnnError, match=f"lacks {WEIGHTS_FILE}$"):
        require_files(tmp_path, WEIGHTS_FILE)
    with pytest.raises(NlpRnnError, match="lacks tokenizer$"):
        require_files(tmp_path, dirs=["tokenizer"])
