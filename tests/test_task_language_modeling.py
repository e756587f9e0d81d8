"""Language modelling as a task: codecs, token stores, stream segments that cover every target
once, perplexity, overfitting a tiny text, labels, save/load, exact resume with the carried state."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from nlp_rnn.api import load_model
from nlp_rnn.data.token_store import Documents, write_documents
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.models.language_model import LanguageModelConfig, RNNLanguageModel
from nlp_rnn.tasks.language_modeling import (
    CARRY_FILE,
    LanguageModelPredictor,
    StreamSegments,
    collate_documents,
    evaluate_documents,
    fit_language_model,
)
from nlp_rnn.text.codec import BOS_ID, EOS_ID, PAD_ID, CodecSettings, train_codec
from nlp_rnn.training.checkpoint import read_json
from nlp_rnn.training.config import TrainerConfig
from nlp_rnn.training.trainer import Callback, TrainerState

TEXTS = ["the cat sat on the mat.", "the dog sat on the log.", "a cat and a dog met."] * 8
QUIET = {"device": "cpu", "tensorboard": False, "plot": False, "log_every": 5, "metric": "ppl"}
SMALL = {"embedding_dim": 16, "hidden_size": 32, "dropout": 0.0, "embedding_dropout": 0.0}


pytestmark = pytest.mark.usefixtures("one_thread")


def store(tmp_path: Path, name: str, codec, texts, labels=None) -> Documents:
    records = zip(texts, labels, strict=True) if labels is not None else ((text, None) for text in texts)
    return write_documents(tmp_path, name, codec, records, labelled=labels is not None)


@pytest.mark.parametrize(("rows", "bptt"), [(3, 4), (1, 7), (4, 100)])
def test_segments_cover_every_target_once(tmp_path: Path, rows: int, bptt: int) -> None:
    codec = train_codec(iter(TEXTS), CodecSettings(level="char"))
    documents = store(tmp_path, "x", codec, TEXTS[:5])
    stream = documents.ids.astype(np.int64)
    evaluation = StreamSegments(documents, rows, bptt, whole_segments=False)
    targets = np.concatenate([evaluation[j][2] for j in range(len(evaluation))], axis=1)  # rows x L
    assert targets[targets != PAD_ID].tolist() == stream[1:].tolist()  # row by row, in order
    inputs = np.concatenate([evaluation[j][1] for j in range(len(evaluation))], axis=1)
    assert inputs.flatten()[: len(stream) - 1].tolist() == stream[:-1].tolist()
    assert len(set(evaluation.lengths)) == 1  # equal lengths: the Trainer keeps the order
    if rows * bptt <= len(stream) - 1:
        training = StreamSegments(documents, rows, bptt, whole_segments=True)
        assert all(training[j][1].shape == (rows, bptt) for j in range(len(training)))
        assert len(stream) - len(training.used_ids) < rows * bptt
    else:
        with pytest.raises(NlpRnnError, match="too few"):
            StreamSegments(documents, rows, bptt, whole_segments=True)


def test_stream_perplexity_is_the_mean_nll_of_every_target(tmp_path: Path) -> None:
    codec = train_codec(iter(TEXTS), CodecSettings(level="char"))
    documents = store(tmp_path, "x", codec, TEXTS[:4])
    torch.manual_seed(0)
    model = RNNLanguageModel(LanguageModelConfig(**SMALL), codec.vocab_size).eval()
    stream = torch.as_tensor(documents.ids.astype(np.int64))
    with torch.no_grad():
        logits, _ = model.logits(stream[None, :-1], model.initial_state(1))
    nll = float(torch.nn.functional.cross_entropy(logits[0], stream[1:], reduction="sum"))
    metrics = evaluate_documents(model, documents, "stream", streams=1, bptt=7)  # state carried
    assert metrics["nll"] == pytest.approx(nll / documents.targets, rel=1e-5)
    assert metrics["bpc"] == pytest.approx(nll / math.log(2) / documents.characters, rel=1e-5)
    assert metrics["ppl"] == pytest.approx(math.exp(metrics["nll"]))


def test_documents_are_read_from_the_start_marker() -> None:
    batch = collate_documents([(np.array([5, 6, EOS_ID]), 1), (np.array([7, EOS_ID]), 0)])
    assert batch["inputs"].tolist() == [[BOS_ID, 5, 6], [BOS_ID, 7, PAD_ID]]
    assert batch["targets"].tolist() == [[5, 6, EOS_ID], [7, EOS_ID, PAD_ID]]
    assert batch["labels"].tolist() == [1, 0]


def trained_stream_model(tmp_path: Path, **trainer) -> LanguageModelPredictor:
    codec = train_codec(iter(TEXTS), CodecSettings(level="char"))
    train, dev = store(tmp_path, "train", codec, TEXTS), store(tmp_path, "dev", codec, TEXTS[:3])
    torch.manual_seed(0)
    model = RNNLanguageModel(LanguageModelConfig(**SMALL), codec.vocab_size)
    config = TrainerConfig(**{**QUIET, "lr": 0.01, "max_epochs": 40, **trainer})
    fit_language_model(
        model, train, dev, config, tmp_path / "run", layout="stream", streams=4, bptt=16, eval_streams=2
    )
    return LanguageModelPredictor(model.eval(), codec, "stream", streams=2, bptt=16)


def test_an_lm_overfits_a_tiny_text_and_saves_loads_identically(tmp_path: Path) -> None:
    predictor = trained_stream_model(tmp_path)
    report = predictor.perplexity(TEXTS[:3])
    assert (
        report.ppl < 1.3 and report.documents == 3 and report.characters == sum(len(t) + 1 for t in TEXTS[:3])
    )
    (greedy,) = predictor.generate("the d", temperature=0.0)
    assert (
        greedy.text == "the dog sat on the log."
        and greedy.finished
        and greedy.continuation == "og sat on the log."
    )
    predictor.save(tmp_path / "model", metrics={"dev.rnn_ppl": report.ppl})
    assert read_json(tmp_path / "model" / "config.json")["task"] == "language_model"
    loaded = load_model(tmp_path / "model")
    assert loaded.perplexity(TEXTS[:3]) == report
    options = {"max_tokens": 40, "temperature": 1.2, "num": 3, "seed": 7}
    assert loaded.generate("a", **options) == predictor.generate("a", **options)
    assert loaded.generate("", max_tokens=5, seed=1)[0].text  # an empty prompt starts a new text


def test_generation_errors_name_the_problem(tmp_path: Path) -> None:
    codec = train_codec(iter(TEXTS), CodecSettings(level="char"))
    model = RNNLanguageModel(LanguageModelConfig(**SMALL), codec.vocab_size, num_labels=2)
    conditioned = LanguageModelPredictor(model, codec, "documents", ["neg", "pos"])
    with pytest.raises(NlpRnnError, match="unknown label 'meh'; this model knows neg, pos"):
        conditioned.generate("a", label="meh")
    with pytest.raises(NlpRnnError, match="conditioned on a label: give one of neg, pos"):
        conditioned.generate("a")
    with pytest.raises(NlpRnnError, match="conditioned on a label"):
        conditioned.perplexity(["a b"])
    plain = LanguageModelPredictor(
        RNNLanguageModel(LanguageModelConfig(**SMALL), codec.vocab_size), codec, "stream"
    )
    with pytest.raises(NlpRnnError, match="not conditioned on labels"):
        plain.generate("a", label="pos")
    with pytest.raises(NlpRnnError, match="max_tokens must be 1 or more"):
        plain.generate("a", max_tokens=0)
    with pytest.raises(NlpRnnError, match="no text to score"):
        plain.perplexity(["", "  "])


def test_the_label_steers_a_conditioned_model(tmp_path: Path) -> None:
    good = ["good fine great", "great good fine", "fine great good"] * 6
    bad = ["bad poor awful", "awful bad poor", "poor awful bad"] * 6
    texts, labels = good + bad, [1] * len(good) + [0] * len(bad)
    codec = train_codec(iter(texts), CodecSettings(level="word"))
    train = store(tmp_path, "train", codec, texts, labels)
    torch.manual_seed(0)
    model = RNNLanguageModel(
        LanguageModelConfig(**SMALL, conditioning="init"), codec.vocab_size, num_labels=2
    )
    config = TrainerConfig(**{**QUIET, "lr": 0.02, "max_epochs": 30, "batch_size": 8})
    fit_language_model(
        model, train, train, config, tmp_path / "run", layout="documents", streams=1, bptt=1, eval_streams=1
    )
    predictor = LanguageModelPredictor(model.eval(), codec, "documents", ["neg", "pos"])
    for label, words in (("pos", {"good", "fine", "great"}), ("neg", {"bad", "poor", "awful"})):
        generations = predictor.generate("", label=label, temperature=0.7, num=5, seed=3)
        assert all(set(g.text.split()) <= words and g.finished for g in generations), (label, generations)
    assert predictor.perplexity(good[:3], "pos").ppl < predictor.perplexity(good[:3], "neg").ppl


class CrashAfterCheckpoint(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_checkpoint(self, kind: str, path: Path, state: TrainerState) -> None:
        if kind == "last" and state.step == self.step:
            raise RuntimeError("simulated crash")


def test_a_killed_stream_run_resumes_exactly(tmp_path: Path) -> None:
    codec = train_codec(iter(TEXTS), CodecSettings(level="char"))
    train, dev = store(tmp_path, "train", codec, TEXTS), store(tmp_path, "dev", codec, TEXTS[:3])
    settings = {**QUIET, "lr": 0.01, "max_epochs": 2, "checkpoint_every": 3, "eval_every_steps": 4}
    config = TrainerConfig(**settings)
    layout = {"layout": "stream", "streams": 3, "bptt": 8, "eval_streams": 2}

    def model() -> RNNLanguageModel:
        torch.manual_seed(0)
        return RNNLanguageModel(LanguageModelConfig(**{**SMALL, "dropout": 0.2}), codec.vocab_size)

    full = model()
    fit_language_model(full, train, dev, config, tmp_path / "full", **layout)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit_language_model(
            model(), train, dev, config, tmp_path / "crashed", callbacks=[CrashAfterCheckpoint(6)], **layout
        )
    state = read_json(tmp_path / "crashed" / "last" / "trainer_state.json")
    assert state["position"] > 0 and (tmp_path / "crashed" / "last" / CARRY_FILE).is_file()
    torch.manual_seed(9)
    resumed = RNNLanguageModel(LanguageModelConfig(**{**SMALL, "dropout": 0.2}), codec.vocab_size)
    fit_language_model(resumed, train, dev, config, tmp_path / "crashed", resume=True, **layout)
    for name, tensor in full.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
    saved = load_file(str(tmp_path / "full" / "last" / CARRY_FILE))
    torch.testing.assert_close(saved["h"], full.carried[0])
