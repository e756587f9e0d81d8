"""transfer_weights: one classifier started from another (encoder, shared words, output layer);
transfer_from_language_model: a classifier started from a bidirectional language model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_stage_train_classifier import write_pipeline

from nlp_rnn.api import load_model
from nlp_rnn.errors import ConfigError
from nlp_rnn.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig
from nlp_rnn.models.classifier import ClassifierConfig, RNNClassifier
from nlp_rnn.models.partly_frozen_embedding import PartlyFrozenEmbedding
from nlp_rnn.pipeline import load_pipeline, run_pipeline
from nlp_rnn.tasks.classifier_transfer import transfer_from_language_model, transfer_weights
from nlp_rnn.text.vocab import LABEL_SPECIALS, NO_MARKERS, Vocab

pytestmark = pytest.mark.usefixtures("one_thread")
CONFIG = ClassifierConfig(hidden_size=6, pooling="max")


def classifier(vocab: Vocab, seed: int, frozen: int = 0, config: ClassifierConfig = CONFIG) -> RNNClassifier:
    torch.manual_seed(seed)
    model = RNNClassifier(torch.nn.Embedding(len(vocab), 4, padding_idx=0), 2, config)
    if frozen:
        model.embedding = PartlyFrozenEmbedding.split(model.embedding, len(vocab) - frozen)
    return model


def test_encoder_shared_words_and_output_are_copied() -> None:
    source_vocab = Vocab(["good", "bad", "film"], specials=NO_MARKERS)
    target_vocab = Vocab(["film", "dull", "good", "splendid"], specials=NO_MARKERS)
    labels = Vocab(["0", "1"], specials=LABEL_SPECIALS)
    source = classifier(source_vocab, seed=1)
    target = classifier(target_vocab, seed=2, frozen=1)  # "splendid" is a fixed row
    untouched = target.embedding(torch.tensor([target_vocab.stoi["dull"]])).clone()
    report = transfer_weights(target, target_vocab, labels, source, source_vocab, labels)
    assert report.words_copied == 4 and report.output_copied  # <pad>, <unk>, film, good
    for name, value in source.encoder.state_dict().items():
        assert torch.equal(target.encoder.state_dict()[name], value)
    assert torch.equal(target.output.weight, source.output.weight)
    for word in ("film", "good", "<unk>"):
        assert torch.equal(
            target.embedding(torch.tensor([target_vocab.stoi[word]])),
            source.embedding(torch.tensor([source_vocab.stoi[word]])),
        )
    assert torch.equal(target.embedding(torch.tensor([target_vocab.stoi["dull"]])), untouched)


def test_other_labels_keep_the_output_and_other_shapes_are_refused() -> None:
    vocab = Vocab(["good"], specials=NO_MARKERS)
    source = classifier(vocab, seed=1)
    target = classifier(vocab, seed=2)
    before = target.output.weight.clone()
    report = transfer_weights(
        target,
        vocab,
        Vocab(["neg", "pos"], specials=LABEL_SPECIALS),
        source,
        vocab,
        Vocab(["0", "1"], specials=LABEL_SPECIALS),
    )
    assert not report.output_copied and torch.equal(target.output.weight, before)
    wider = classifier(vocab, seed=3, config=ClassifierConfig(hidden_size=7, pooling="max"))
    with pytest.raises(ConfigError, match="shape differs"):
        transfer_weights(wider, vocab, Vocab(["0", "1"]), source, vocab, Vocab(["0", "1"]))


def test_a_language_model_gives_its_encoder_and_shared_words() -> None:
    source_vocab = Vocab(["good", "bad", "film"], specials=NO_MARKERS)
    target_vocab = Vocab(["film", "dull", "good"], specials=NO_MARKERS)
    torch.manual_seed(1)
    config = BidirectionalLMConfig(hidden_size=6, output_words=5, cutoffs=[2], div_value=2.0)
    source = BidirectionalLM(torch.nn.Embedding(5, 4, padding_idx=0), 5, 1, config)
    target = classifier(target_vocab, seed=2)
    output, dull = target.output.weight.clone(), target.embedding.weight[3].clone()
    report = transfer_from_language_model(target, target_vocab, source, source_vocab)
    assert report.words_copied == 4 and report.from_language_model  # <pad>, <unk>, film, good
    assert "from a language model" in report.summary()
    for name, value in source.encoder.state_dict().items():
        assert torch.equal(target.encoder.state_dict()[name], value)
    assert torch.equal(target.embedding.weight[2], source.embedding.weight[4])  # film
    assert torch.equal(target.embedding.weight[3], dull) and torch.equal(target.output.weight, output)
    for other in (ClassifierConfig(hidden_size=7), ClassifierConfig(hidden_size=6, num_layers=2)):
        with pytest.raises(ConfigError, match="language model's encoder differs"):
            transfer_from_language_model(
                classifier(target_vocab, 3, config=other), target_vocab, source, source_vocab
            )


def test_the_stage_starts_from_a_trained_classifier(tmp_path: Path) -> None:
    first = run_pipeline(load_pipeline(write_pipeline(tmp_path)), tmp_path / "first")
    source = tmp_path / "first" / "model" / "sentiment"
    overrides = [f"stages.train.init_from={source}", "stages.train.trainer.max_epochs=1"]
    second = run_pipeline(load_pipeline(write_pipeline(tmp_path), overrides), tmp_path / "second")
    assert second.metrics["train.init_from.words_copied"] == second.metrics["train.vocab_size"]
    assert first.metrics["train.dev.accuracy"] > 0
    assert load_model(tmp_path / "second" / "model" / "sentiment").predict(["a wonderful film"])
    missing = [f"stages.train.init_from={tmp_path / 'nowhere'}"]
    with pytest.raises(ConfigError, match="init_from: .* is not a model folder"):
        run_pipeline(load_pipeline(write_pipeline(tmp_path), missing), tmp_path / "third")
