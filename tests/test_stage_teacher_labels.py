"""The ``teacher_labels`` stage (teacher-labelled raw sentences) and ``train_classifier``'s
``extra_train``."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pytest
from script_module import load_script

from nlp_rnn.api import load_model
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.pipeline import load_pipeline, run_pipeline
from nlp_rnn.stages.teacher_labels import ensemble, load_teachers
from nlp_rnn.text.sentences import split_sentences
from nlp_rnn.text.tokenizers import RegexTokenizer

DEMO = Path(__file__).resolve().parent.parent / "corpora" / "demo"

TEXT = [
    "The script is dull but clever. I found the plot bad and bad.",
    "Wow.",  # one word and a full stop: two words, skipped with min_words 3
    "I found the acting very moving and moving! What a wonderful film it is.",
    "The plot is not good at all, and the acting is dull.",
    "A clever, moving script. The film is bad.",
]

REGEX = {"kind": "regex", "lowercase": True}

CLASSIFIER = {
    "kind": "train_classifier",
    "input": "tokens",
    "embedding": {"dim": 8},
    "model": {"hidden_size": 8, "pooling": "max"},
    "trainer": {"lr": 0.02, "batch_size": 32, "max_epochs": 2, "tensorboard": False, "plot": False},
}


def write_pipeline(folder: Path, stages: dict) -> Path:
    path = folder / "pipeline.yaml"
    document = {
        "name": "teacher_labels_test",
        "seed": 3,
        "stages": {
            "data": {
                "kind": "corpus",
                "format": "label_text",
                "splits": {split: str(DEMO / f"sentiment.{split}.txt") for split in ("train", "dev")},
            },
            "tokens": {"kind": "tokenize", "input": "data", "tokenizer": REGEX},
            **stages,
        },
    }
    path.write_text(json.dumps(document), encoding="utf-8")  # JSON is YAML
    return path


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sentiment classifier trained on the demo corpus: its model folder."""
    folder = tmp_path_factory.mktemp("teacher")
    run_pipeline(load_pipeline(write_pipeline(folder, {"train": CLASSIFIER})), folder / "run")
    return folder / "run" / "model"


def student_pipeline(folder: Path, teachers: list[Path], **settings: object) -> Path:
    text = folder / "raw.txt"
    text.write_text("\n".join(TEXT) + "\n", encoding="utf-8")
    silver = {"kind": "teacher_labels", "input": "raw", "teachers": [str(t) for t in teachers]}
    stages = {
        "raw": {"kind": "corpus", "format": "lines", "splits": {"train": str(text)}},
        "silver": {**silver, "sentences": 100, "min_words": 3, **settings},
        "silver_tokens": {"kind": "tokenize", "input": "silver", "tokenizer": REGEX},
        "train": {**CLASSIFIER, "extra_train": ["silver_tokens"]},
    }
    return write_pipeline(folder, stages)


def silver_rows(run: Path) -> datasets.Dataset:
    return datasets.load_from_disk(str(run / "stages" / "silver" / "splits" / "train"))


def expected_sentences() -> list[str]:
    return [s.text for text in TEXT for s in split_sentences(text) if 3 <= len(s.words) <= 60]


def test_silver_sentences_carry_the_teachers_labels_and_join_training(tmp_path: Path, teacher: Path) -> None:
    # the same teacher twice: the averaged distribution is the teacher's own
    result = run_pipeline(load_pipeline(student_pipeline(tmp_path, [teacher, teacher])), tmp_path / "run")
    rows = silver_rows(tmp_path / "run")
    assert sorted(rows["text"]) == sorted(expected_sentences())
    model = load_model(teacher)
    probabilities = model.predict_proba(rows["text"])
    assert rows["label"] == model.predict(rows["text"])
    assert np.allclose(rows["confidence"], probabilities.max(1), atol=1e-6)
    averaged = np.array([[row[label] for label in model.labels] for row in rows["probabilities"]])
    assert np.allclose(averaged, probabilities, atol=1e-6)
    metrics = result.metrics
    assert metrics["silver.teacher_agreement"] == 1.0
    assert metrics["silver.train.rows"] == len(expected_sentences()) == metrics["silver.sentences"]
    assert sum(metrics[f"silver.train.label.{label}"] for label in model.labels) == len(rows)
    # the student trains on the 400 gold examples and the silver ones; dev stays the gold dev split
    assert metrics["train.train.examples"] == 400 + len(rows)
    assert metrics["train.dev.examples"] == 100


def test_min_confidence_drops_unsure_sentences(tmp_path: Path, teacher: Path) -> None:
    confidence = load_model(teacher).predict_proba(expected_sentences()).max(1)
    threshold = float(np.median(confidence))
    path = student_pipeline(tmp_path, [teacher], min_confidence=threshold)
    result = run_pipeline(load_pipeline(path), tmp_path / "run", until="silver")
    rows = silver_rows(tmp_path / "run")
    assert len(rows) == int((confidence >= threshold).sum()) < len(confidence)
    assert min(rows["confidence"]) >= threshold - 1e-6
    assert result.metrics["silver.dropped_unsure"] == len(confidence) - len(rows)


def test_no_sentence_kept_is_a_clear_error(tmp_path: Path, teacher: Path) -> None:
    path = student_pipeline(tmp_path, [teacher], min_words=50)
    with pytest.raises(NlpRnnError, match="no sentence of 50 to 60 words in the 5 rows of 'raw'"):
        run_pipeline(load_pipeline(path), tmp_path / "run", until="silver")
    assert not (tmp_path / "run" / "stages" / "silver").exists()  # no half-written output


def test_no_sentence_sure_enough_is_a_clear_error(tmp_path: Path, teacher: Path) -> None:
    surest = float(load_model(teacher).predict_proba(expected_sentences()).max())
    path = student_pipeline(tmp_path, [teacher], min_confidence=(surest + 1) / 2)
    sentences = len(expected_sentences())
    message = rf"{sentences} sentences, none labelled with probability 0\.\d+\+ in the 5 rows of 'raw'"
    with pytest.raises(NlpRnnError, match=message):
        run_pipeline(load_pipeline(path), tmp_path / "run", until="silver")


def test_teachers_must_be_classifiers_with_the_same_labels(
    tmp_path: Path, teacher: Path, tiny_tagger: Path
) -> None:
    with pytest.raises(NlpRnnError, match="is a tagging model, not a classifier"):
        load_teachers([str(teacher), str(tiny_tagger)])
    other = tmp_path / "other"
    other.mkdir()
    model = load_model(teacher)
    model.label_vocab.itos.reverse()  # the same model, its two labels swapped: another label order
    model.save(other)
    with pytest.raises(NlpRnnError, match="teachers must be trained on the same labels"):
        load_teachers([str(teacher), str(other)])


def test_sentences_without_tokens_for_some_teacher_are_left_out(teacher: Path) -> None:
    first, second = load_teachers([str(teacher), str(teacher)])
    second.tokenizer = RegexTokenizer(pattern=r"[a-z]+", lowercase=True)  # finds nothing in "123 !"
    votes = ensemble([first, second], ["what a good film .", "123 !", "the plot is bad ."])
    assert votes.rows.tolist() == [0, 2]
    assert votes.averaged.shape == (2, 2) and votes.choices.shape == (2, 2)
    assert np.allclose(votes.averaged.sum(1), 1, atol=1e-5)


def test_ensemble_script_scores_models_and_their_average(teacher: Path) -> None:
    script = load_script("ensemble_classifiers")
    dev = DEMO / "sentiment.dev.txt"
    results = script.main([str(teacher), str(teacher), "--corpus", str(dev), "--format", "label_text"])
    model = load_model(teacher)
    rows = [line.split(" ", 1) for line in dev.read_text(encoding="utf-8").splitlines()]
    predicted = model.predict([text for _, text in rows])
    expected = np.mean([label == gold for label, (gold, _) in zip(predicted, rows, strict=True)])
    assert results[str(teacher)] == pytest.approx(expected) == results["ensemble"]


def test_soft_targets_train_towards_the_teachers_probabilities(tmp_path: Path, teacher: Path) -> None:
    from nlp_rnn.stages.train_classifier import TrainClassifierStage

    path = student_pipeline(tmp_path, [teacher])
    document = json.loads(path.read_text(encoding="utf-8"))
    document["stages"]["train"]["soft_targets"] = True
    path.write_text(json.dumps(document), encoding="utf-8")
    targets: list[np.ndarray] = []
    original = TrainClassifierStage._targets

    def spy(self, *args):  # type: ignore[no-untyped-def]
        targets.append(original(self, *args))
        return targets[-1]

    TrainClassifierStage._targets = spy  # type: ignore[method-assign]
    try:
        result = run_pipeline(load_pipeline(path), tmp_path / "run")
    finally:
        TrainClassifierStage._targets = original  # type: ignore[method-assign]
    (given,) = targets
    rows = silver_rows(tmp_path / "run")
    labels = load_model(teacher).labels
    silver = np.array([[row[label] for label in labels] for row in rows["probabilities"]], dtype=np.float32)
    assert result.metrics["train.train.examples"] == 400 + len(rows) == len(given)
    assert np.array_equal(given[400:], silver)  # the silver rows follow the gold ones, in order
    gold = np.isclose(given[:400], 1).sum(1)
    assert (gold == 1).all() and np.allclose(given[:400].sum(1), 1)  # one-hot gold labels


def test_soft_targets_need_a_probabilities_column(tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("1 a clever film .\n0 a dull film .\n", encoding="utf-8")
    stages = {
        "more": {"kind": "corpus", "format": "label_text", "splits": {"train": str(other)}},
        "more_tokens": {"kind": "tokenize", "input": "more", "tokenizer": REGEX},
        "train": {**CLASSIFIER, "extra_train": ["more_tokens"], "soft_targets": True},
    }
    with pytest.raises(NlpRnnError, match="soft_targets needs a `probabilities` column .* 'more_tokens'"):
        run_pipeline(load_pipeline(write_pipeline(tmp_path, stages)), tmp_path / "run")


def test_soft_targets_without_extra_train_is_a_config_error(tmp_path: Path) -> None:
    from nlp_rnn.errors import ConfigError

    stages = {"train": {**CLASSIFIER, "soft_targets": True}}
    with pytest.raises(ConfigError, match="soft_targets trains towards the probabilities of extra_train"):
        load_pipeline(write_pipeline(tmp_path, stages))


def test_a_loss_towards_distributions() -> None:
    import torch

    from nlp_rnn.tasks.classification import EncodedExamples, collate

    examples = EncodedExamples(
        ids=np.array([4, 5, 6], dtype=np.int64),
        offsets=np.array([0, 2, 3], dtype=np.int64),
        labels=np.array([1, 0], dtype=np.int64),
        rows=np.array([0, 1], dtype=np.int64),
        targets=np.array([[0.25, 0.75], [1.0, 0.0]], dtype=np.float32),
    )
    batch = collate([examples[0], examples[1]])
    assert batch["ids"].tolist() == [[4, 5], [6, 0]] and batch["labels"].tolist() == [1, 0]
    assert torch.equal(batch["targets"], torch.tensor([[0.25, 0.75], [1.0, 0.0]]))
