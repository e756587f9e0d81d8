"""The served models (``nlp_rnn.serve.registry``): names from the command line, loading, and the
checks made before anything is served."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_task_classification import make_model_folder

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.serve.registry import ModelNotFound, ModelRegistry, parse_model_spec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("sst2=runs/sentiment_sst2/model", ("sst2", Path("runs/sentiment_sst2/model"))),
        ("runs/sentiment_sst2/model", ("sentiment_sst2", Path("runs/sentiment_sst2/model"))),
        ("runs/demo/model/tagger", ("tagger", Path("runs/demo/model/tagger"))),
        ("models/a=b", ("a=b", Path("models/a=b"))),  # a folder whose name holds "="
    ],
)
def test_model_specs_name_the_model(spec: str, expected: tuple[str, Path]) -> None:
    assert parse_model_spec(spec) == expected


def test_load_describes_each_model(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "sentiment" / "model")
    registry = ModelRegistry.load([str(folder), f"other={folder}"])
    assert [model.name for model in registry] == ["sentiment", "other"] and len(registry) == 2
    info = registry.models["other"].description
    assert info == {
        "name": "other",
        "task": "classification",
        "folder": str(folder),
        "labels": ["neg", "pos"],
        "metrics": {"accuracy": 0.5},
    }


def test_what_is_refused_before_serving(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "m")
    with pytest.raises(NlpRnnError, match="no model to serve"):
        ModelRegistry.load([])
    with pytest.raises(NlpRnnError, match=r"two models are named 'm'.*NAME=FOLDER"):
        ModelRegistry.load([str(folder), str(folder)])
    with pytest.raises(NlpRnnError, match="missing: model folder not found"):
        ModelRegistry.load([str(tmp_path / "missing")])
    with pytest.raises(
        NlpRnnError, match="--precision int8: m is a classification model, which runs in fp32, bf16"
    ):
        ModelRegistry.load([str(folder)], precision="int8")


def test_pick_by_name_or_by_task(tmp_path: Path) -> None:
    registry = ModelRegistry.load([f"a={make_model_folder(tmp_path / 'a')}"])
    assert registry.pick(["classification"], None).name == "a"
    assert registry.pick(["classification"], "a").name == "a"
    with pytest.raises(ModelNotFound, match="this server holds no tagger"):
        registry.pick(["tagging"], None)
    with pytest.raises(ModelNotFound, match=r"no model named 'b'; this server holds: a \(classification\)"):
        registry.pick(["classification"], "b")
    with pytest.raises(NlpRnnError, match="a is a classifier; this endpoint needs a language model or"):
        registry.pick(["language_model", "bidirectional_lm"], "a")


def test_precision_applies_to_the_models_that_declare_theirs(tmp_path: Path) -> None:
    from test_task_bidirectional_lm import predictor as bidirectional_lm

    classifier = make_model_folder(tmp_path / "c")
    assert len(ModelRegistry.load([str(classifier)], precision="bf16")) == 1  # in its precisions
    language_model = bidirectional_lm().save(tmp_path / "lm")  # multiplies in fp32 only
    assert len(ModelRegistry.load([str(language_model)], precision="int8")) == 1
