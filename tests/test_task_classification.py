"""The classification task: encoding, collation, evaluation, the predictor and its model folder.

Includes the helper test every model gets: train a tiny model, save it, load it, predict the same.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.models.classifier import POOLINGS, ClassifierConfig, RNNClassifier
from nlp_rnn.tasks.classification import (
    LABELS_FILE,
    TOKENIZER_DIR,
    VOCAB_FILE,
    WEIGHTS_FILE,
    ClassificationPredictor,
    EmptyTextError,
    collate,
    encode_examples,
    evaluate_batches,
    inference_batches,
    truncate_tokens,
)
from nlp_rnn.text.tokenizers import RegexTokenizer
from nlp_rnn.text.vocab import LABEL_SPECIALS, NO_MARKERS, SPECIALS, Vocab
from nlp_rnn.training.config import TrainerConfig
from nlp_rnn.training.trainer import Trainer

DEMO = Path(__file__).resolve().parent.parent / "corpora" / "demo"


def read_demo(split: str) -> tuple[list[str], list[str]]:
    """The demo sentiment corpus ("LABEL text" lines) as texts and labels."""
    lines = (DEMO / f"sentiment.{split}.txt").read_text(encoding="utf-8").splitlines()
    labels, texts = zip(*(line.split(" ", 1) for line in lines), strict=True)
    return list(texts), list(labels)


def make_predictor(pooling: str = "max", labels: tuple[str, ...] = ("neg", "pos")) -> ClassificationPredictor:
    """An untrained predictor over a small vocabulary: enough for file-format and CLI tests."""
    tokenizer = RegexTokenizer(lowercase=True)
    vocab = Vocab.build([["the", "movie", "is", "good", "bad", "not", "."]], specials=NO_MARKERS)
    torch.manual_seed(0)
    config = ClassifierConfig(hidden_size=4, pooling=pooling)
    model = RNNClassifier(nn.Embedding(len(vocab), 3, padding_idx=0), len(labels), config)
    return ClassificationPredictor(model, tokenizer, vocab, Vocab(labels, specials=LABEL_SPECIALS))


def make_model_folder(folder: Path, **options) -> Path:
    """A complete model folder written by an untrained predictor."""
    return make_predictor(**options).save(folder, metrics={"accuracy": 0.5})


# --------------------------------------------------------------------------- encoding


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("head", list("abcdefgh")), ("tail", list("cdefghij")), ("head_tail", list("abefghij"))],
)
def test_truncate_policies(policy: str, expected: list[str]) -> None:
    assert truncate_tokens(list("abcdefghij"), 8, policy) == expected
    assert truncate_tokens(list("abc"), 8, policy) == list("abc")
    assert truncate_tokens(list("abc"), None, policy) == list("abc")


def test_encode_maps_unknown_words_to_unk_and_keeps_rows() -> None:
    vocab = Vocab.build([["good", "movie"]], specials=NO_MARKERS)
    labels = Vocab(["0", "1"], specials=LABEL_SPECIALS)
    encoded = encode_examples([["good", "film"], [], ["movie"]], vocab, [1, "0", 0], labels, skip_empty=True)
    assert len(encoded) == 2 and encoded.rows.tolist() == [0, 2]
    ids, label = encoded[0]
    assert ids.tolist() == [vocab.stoi["good"], vocab.unk_id] and label == 1  # labels compare as strings
    assert encoded.lengths == [2, 1] and encoded.tokens == 3


def test_encode_errors_name_the_row() -> None:
    vocab = Vocab.build([["good"]], specials=NO_MARKERS)
    labels = Vocab(["neg", "pos"], specials=LABEL_SPECIALS)
    with pytest.raises(InputError, match=r"dev.txt: row 1 has no tokens"):
        encode_examples([["good"], []], vocab, source="dev.txt")
    with pytest.raises(
        InputError, match=r"row 1: label 'neutral' is not one of the model's labels \(neg, pos\)"
    ):
        encode_examples([["good"], ["good"]], vocab, ["pos", "neutral"], labels)
    with pytest.raises(NlpRnnError, match="<pad>"):
        encode_examples([["good"]], labels)


def test_collate_pads_right_and_keeps_labels() -> None:
    batch = collate([(np.array([4, 5, 6]), 1), (np.array([7]), 0)])
    assert batch["ids"].tolist() == [[4, 5, 6], [7, 0, 0]]
    assert batch["lengths"].tolist() == [3, 1] and batch["labels"].tolist() == [1, 0]
    assert "labels" not in collate([(np.array([4]), -1)])


def test_evaluate_batches_reports_accuracy_macro_f1_and_loss() -> None:
    class Fixed(nn.Module):
        num_classes = 2

        def forward(self, batch):
            logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])  # predicts 0, 1, 0
            return {"logits": logits, "loss": nn.functional.cross_entropy(logits, batch["labels"])}

    batch = {"lengths": torch.ones(3), "labels": torch.tensor([0, 1, 1])}
    metrics = evaluate_batches(Fixed(), [batch])
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["macro_f1"] == pytest.approx(2 / 3)  # both classes: F1 2/3 (P 1/2 R 1; P 1 R 1/2)
    assert set(metrics) == {"accuracy", "macro_f1", "loss"}


def test_inference_batches_hold_one_length_where_groups_are_large() -> None:
    lengths = [3] * 5 + [4] * 5 + [9, 10]
    batches = inference_batches(lengths, batch_size=8)
    assert sorted(i for batch in batches for i in batch) == list(range(12))
    # A length change closes a batch once it holds a quarter of batch_size (2); 9 and 10 share one.
    assert [sorted({lengths[i] for i in batch}) for batch in batches] == [[3], [4], [9, 10]]
    assert [len(batch) for batch in inference_batches([5] * 4, batch_size=8, max_tokens=10)] == [2, 2]
    assert [len(batch) for batch in inference_batches([5] * 5, batch_size=2)] == [2, 2, 1]


def test_inference_batches_filled_across_lengths() -> None:
    lengths = [4] * 5 + [3] * 5 + [9, 10]
    batches = inference_batches(lengths, batch_size=8, one_length=False)
    assert [[lengths[i] for i in batch] for batch in batches] == [[3] * 5 + [4] * 3, [4, 4, 9, 10]]
    capped = inference_batches([5] * 5, batch_size=8, max_tokens=10, one_length=False)
    assert [len(batch) for batch in capped] == [2, 2, 1]


# --------------------------------------------------------------------------- the round trip


def train_tiny(pooling: str, tmp_path: Path) -> tuple[ClassificationPredictor, float]:
    """A small classifier trained for a few epochs on the demo corpus; returns it and dev accuracy."""
    tokenizer = RegexTokenizer(lowercase=True)
    train_texts, train_labels = read_demo("train")
    dev_texts, dev_labels = read_demo("dev")
    train_tokens = tokenizer.tokenize_batch(train_texts)
    vocab = Vocab.build(train_tokens, specials=SPECIALS)
    label_vocab = Vocab(sorted(set(train_labels)), specials=LABEL_SPECIALS)
    train = encode_examples(train_tokens, vocab, train_labels, label_vocab)
    dev = encode_examples(tokenizer.tokenize_batch(dev_texts), vocab, dev_labels, label_vocab)
    torch.manual_seed(0)
    config = ClassifierConfig(hidden_size=16, pooling=pooling, embedding_dropout=0.0, output_dropout=0.1)
    model = RNNClassifier(nn.Embedding(len(vocab), 16, padding_idx=0), 2, config)
    trainer_config = TrainerConfig(
        lr=0.02, batch_size=32, max_epochs=4, metric="accuracy", mode="max", tensorboard=False, plot=False
    )
    result = Trainer(trainer_config, tmp_path / "train").fit(
        model, train, dev, collate=collate, evaluate=evaluate_batches
    )
    return ClassificationPredictor(model, tokenizer, vocab, label_vocab), result.best_metric or 0.0


@pytest.mark.parametrize("pooling", POOLINGS)
def test_train_save_load_predict_identically(pooling: str, tmp_path: Path) -> None:
    predictor, dev_accuracy = train_tiny(pooling, tmp_path)
    assert dev_accuracy > 0.6  # it learned something (the demo task's majority class is 56%)
    texts, _ = read_demo("dev")
    before = predictor.predict_proba(texts)
    folder = predictor.save(tmp_path / "model", metrics={"accuracy": dev_accuracy})
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        LABELS_FILE,
        "metrics.json",
        WEIGHTS_FILE,
        TOKENIZER_DIR,
        VOCAB_FILE,
    ]
    loaded = ClassificationPredictor.load(folder)
    after = loaded.predict_proba(texts)
    assert np.array_equal(before, after)
    assert loaded.predict(texts) == predictor.predict(texts)
    assert loaded.labels == ["0", "1"]


def test_batching_by_length_keeps_the_input_order() -> None:
    predictor = make_predictor()
    texts = ["the movie is good .", "bad", "not good , not bad , the movie is", "good movie"]
    together = predictor.predict_proba(texts, batch_size=2)
    one_by_one = np.concatenate([predictor.predict_proba([text]) for text in texts])
    assert np.allclose(together, one_by_one, atol=1e-6)
    assert together.shape == (4, 2) and np.allclose(together.sum(axis=1), 1.0)
    assert predictor.predict([]) == []


def test_bf16_probabilities_stay_close_to_fp32() -> None:
    tokenizer = RegexTokenizer(lowercase=True)
    texts, _ = read_demo("dev")
    vocab = Vocab.build(tokenizer.tokenize_batch(texts), specials=NO_MARKERS)
    torch.manual_seed(0)
    model = RNNClassifier(nn.Embedding(len(vocab), 16, padding_idx=0), 2, ClassifierConfig(hidden_size=32))
    nn.init.normal_(model.output.weight, std=1.0)  # confident enough for labels to mean something
    predictor = ClassificationPredictor(
        model, tokenizer, vocab, Vocab(("neg", "pos"), specials=LABEL_SPECIALS)
    )
    exact = predictor.predict_proba(texts)
    low = predictor.predict_proba(texts, precision="bf16")
    difference = np.abs(exact - low).max()
    assert 0 < difference < 2e-2  # rounded in bf16 (so the bf16 path ran), but only slightly
    clear = np.abs(exact[:, 0] - exact[:, 1]) > 0.05
    assert clear.sum() > len(texts) // 2
    assert np.array_equal(exact[clear].argmax(axis=1), low[clear].argmax(axis=1))
    assert predictor.predict(texts[:3], precision="bf16") == [
        ["neg", "pos"][i] for i in low[:3].argmax(axis=1)
    ]
    with pytest.raises(NlpRnnError, match="precision must be one of fp32, bf16, got 'fp16'"):
        predictor.predict(texts[:3], precision="fp16")


def test_predictor_rejects_empty_texts_and_a_bare_string() -> None:
    predictor = make_predictor()
    with pytest.raises(EmptyTextError, match="text 1 is empty") as caught:
        predictor.predict(["good", "   "])
    assert caught.value.index == 1
    with pytest.raises(TypeError, match="list of texts"):
        predictor.predict("good movie")


def test_predictor_truncates_long_texts_as_saved(tmp_path: Path) -> None:
    predictor = make_predictor()
    from nlp_rnn.tasks.classification import InputSettings

    predictor.settings = InputSettings(max_length=2, truncate="tail")
    loaded = ClassificationPredictor.load(predictor.save(tmp_path / "model"))
    assert loaded.settings == InputSettings(max_length=2, truncate="tail")
    assert np.allclose(loaded.predict_proba(["bad bad bad the movie"]), loaded.predict_proba(["the movie"]))


# --------------------------------------------------------------------------- broken model folders


def test_missing_files_are_named(tmp_path: Path) -> None:
    for name in (VOCAB_FILE, LABELS_FILE, WEIGHTS_FILE):
        folder = make_model_folder(tmp_path / name)
        (folder / name).unlink()
        with pytest.raises(NlpRnnError, match=f"lacks {name}"):
            ClassificationPredictor.load(folder)
    with pytest.raises(NlpRnnError, match="no config.json"):
        ClassificationPredictor.load(tmp_path)


def test_truncated_weights_are_a_clear_error(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "model")
    weights = folder / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(NlpRnnError, match="cannot read the weights.*truncated"):
        ClassificationPredictor.load(folder)


def test_config_of_another_task_or_version_is_refused(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "model")
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "task": "tagging"}))
    with pytest.raises(NlpRnnError, match="task: 'tagging'; this loader reads classification"):
        ClassificationPredictor.load(folder)
    config_file.write_text(json.dumps({**config, "format_version": 99}))
    with pytest.raises(NlpRnnError, match="version 99"):
        ClassificationPredictor.load(folder)
    config_file.write_text(json.dumps({**config, "vocab_size": 3}))
    with pytest.raises(NlpRnnError, match="config.json says 3"):
        ClassificationPredictor.load(folder)
    config_file.write_text(json.dumps({**config, "model": {**config["model"], "pooling": "median"}}))
    with pytest.raises(InputError, match="invalid classifier config"):
        ClassificationPredictor.load(folder)


def test_weights_of_another_architecture_are_refused(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "model")
    other = make_model_folder(tmp_path / "other", pooling="attention")
    (folder / WEIGHTS_FILE).write_bytes((other / WEIGHTS_FILE).read_bytes())
    with pytest.raises(NlpRnnError, match="do not fit config.json"):
        ClassificationPredictor.load(folder)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("pooling", POOLINGS)
def test_cuda_probabilities_match_the_cpu(pooling: str, tmp_path: Path) -> None:
    predictor, _ = train_tiny(pooling, tmp_path)
    texts, _ = read_demo("dev")
    exact = predictor.predict_proba(texts)
    on_gpu = ClassificationPredictor(
        predictor.model, predictor.tokenizer, predictor.vocab, predictor.label_vocab, device="cuda"
    )
    np.testing.assert_allclose(on_gpu.predict_proba(texts, batch_size=7), exact, atol=1e-4)
    low = on_gpu.predict_proba(texts, precision="bf16")
    assert np.abs(low - exact).max() < 5e-2
