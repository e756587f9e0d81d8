"""Tests for nlp_rnn.config: YAML with line numbers, --set overrides, validation messages."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from nlp_rnn.config import Schema, apply_overrides, load_yaml, substitute, validate
from nlp_rnn.errors import ConfigError


class Optim(Schema):
    lr: float = pydantic.Field(1e-3, gt=0)
    name: str = "adamw"


class Experiment(Schema):
    epochs: int = pydantic.Field(3, ge=1)
    optim: Optim = Optim()
    tags: list[str] = []


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_config_and_override(tmp_path: Path) -> None:
    raw = load_yaml(write(tmp_path, "epochs: 2\noptim:\n  lr: 0.01\n"))
    raw = apply_overrides(raw, ["optim.lr=0.5", "tags=[a, b]"])
    config = validate(Experiment, raw.data, raw)
    assert config.epochs == 2
    assert config.optim.lr == 0.5
    assert config.tags == ["a", "b"]
    assert raw.data["optim"]["lr"] == 0.5


def test_override_does_not_mutate_original(tmp_path: Path) -> None:
    raw = load_yaml(write(tmp_path, "epochs: 2\n"))
    apply_overrides(raw, ["epochs=5"])
    assert raw.data["epochs"] == 2


def test_unknown_key_names_key_file_line_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "epochs: 2\noptim:\n  lr: 0.01\n  nmae: sgd\n")
    raw = load_yaml(path)
    with pytest.raises(ConfigError) as info:
        validate(Experiment, raw.data, raw)
    message = str(info.value)
    assert message.startswith(f"{path}:4:")
    assert "unknown key 'optim.nmae'" in message
    assert "did you mean 'name'" in message


def test_unknown_key_from_override_names_the_option(tmp_path: Path) -> None:
    raw = apply_overrides(load_yaml(write(tmp_path, "epochs: 2\n")), ["epoch=3"])
    with pytest.raises(ConfigError, match=r"--set epoch=3: unknown key 'epoch'; did you mean 'epochs'"):
        validate(Experiment, raw.data, raw)


def test_wrong_type_and_range_are_actionable(tmp_path: Path) -> None:
    raw = load_yaml(write(tmp_path, "epochs: many\n"))
    with pytest.raises(ConfigError, match=r"exp.yaml:1: epochs: .*valid integer.*'many'"):
        validate(Experiment, raw.data, raw)
    raw = load_yaml(write(tmp_path, "optim:\n  lr: -1\n"))
    with pytest.raises(ConfigError, match=r"exp.yaml:2: optim.lr: .*greater than 0"):
        validate(Experiment, raw.data, raw)


def test_several_errors_are_all_listed(tmp_path: Path) -> None:
    raw = load_yaml(write(tmp_path, "epochs: 0\nbogus: 1\n"))
    with pytest.raises(ConfigError) as info:
        validate(Experiment, raw.data, raw)
    assert "exp.yaml:1: epochs" in str(info.value)
    assert "exp.yaml:2: unknown key 'bogus'" in str(info.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("", "config file is empty"), ("- a\n- b\n", "expected a mapping"), ("a: [1, 2\n", "invalid YAML")],
)
def test_bad_files(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_yaml(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_yaml(tmp_path / "nope.yaml")


@pytest.mark.parametrize("assignment", ["novalue", "=3", "a..b=1"])
def test_malformed_override(tmp_path: Path, assignment: str) -> None:
    raw = load_yaml(write(tmp_path, "epochs: 2\n"))
    with pytest.raises(ConfigError, match="--set"):
        apply_overrides(raw, [assignment])


def test_override_through_a_scalar_is_an_error(tmp_path: Path) -> None:
    raw = load_yaml(write(tmp_path, "epochs: 2\n"))
    with pytest.raises(ConfigError, match="epochs is not a mapping"):
        apply_overrides(raw, ["epochs.x=1"])


def test_substitute_nested() -> None:
    value = {"a": "${data_dir}/x", "b": ["${data_dir}", 3], "c": None}
    assert substitute(value, {"data_dir": "/d"}) == {"a": "/d/x", "b": ["/d", 3], "c": None}
