"""RNNClassifier and its pooling: shapes, padding invariance, loss, rebuilding from sizes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nlp_rnn.models.classifier import (
    POOLINGS,
    ClassifierConfig,
    Pooling,
    RNNClassifier,
    count_parameters,
)
from nlp_rnn.models.encoder import real_steps_mask

VOCAB = 20


def make_model(pooling: str = "max", cell: str = "lstm", **options) -> RNNClassifier:
    torch.manual_seed(0)
    config = ClassifierConfig(
        cell=cell,
        hidden_size=6,
        pooling=pooling,
        attention_size=5,
        embedding_dropout=0.0,
        output_dropout=0.0,
        **options,
    )
    return RNNClassifier(nn.Embedding(VOCAB, 4, padding_idx=0), 3, config).eval()


def batch_of(rows: list[list[int]], labels: list[int] | None = None) -> dict[str, torch.Tensor]:
    lengths = torch.tensor([len(row) for row in rows])  # B
    ids = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)  # B x T
    for index, row in enumerate(rows):
        ids[index, : len(row)] = torch.tensor(row)
    batch = {"ids": ids, "lengths": lengths}
    if labels is not None:
        batch["labels"] = torch.tensor(labels)
    return batch


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_logits_shape_and_loss_only_with_labels(pooling: str, cell: str) -> None:
    model = make_model(pooling, cell)
    rows = [[3, 4, 5], [6, 7], [8]]
    output = model(batch_of(rows))
    assert output["logits"].shape == (3, 3) and "loss" not in output
    labelled = model(batch_of(rows, [0, 2, 1]))
    expected = nn.functional.cross_entropy(labelled["logits"], torch.tensor([0, 2, 1]))
    assert torch.allclose(labelled["loss"], expected)


def test_loss_towards_target_distributions() -> None:
    model = make_model()
    batch = batch_of([[3, 4, 5], [6, 7]], [2, 0])
    batch["targets"] = torch.tensor([[0.1, 0.2, 0.7], [1.0, 0.0, 0.0]])
    output = model(batch)
    log_probabilities = output["logits"].log_softmax(dim=-1)  # B x C
    expected = -(batch["targets"] * log_probabilities).sum(1).mean()
    assert torch.allclose(output["loss"], expected)  # the targets, not the labels
    one_hot = model({**batch, "targets": torch.eye(3)[batch["labels"]]})["loss"]
    assert torch.allclose(one_hot, model(batch_of([[3, 4, 5], [6, 7]], [2, 0]))["loss"])


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("length_mode", ["packed", "masked"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_does_not_change_a_texts_logits(pooling: str, length_mode: str, bidirectional: bool) -> None:
    model = make_model(pooling, length_mode=length_mode, bidirectional=bidirectional, num_layers=2)
    short = [5, 6, 7]
    alone = model(batch_of([short]))["logits"]  # no padding at all
    padded = model(batch_of([short, [1, 2, 3, 4, 5, 6, 7, 8]]))["logits"][0]  # 5 padding steps
    assert torch.allclose(alone[0], padded, atol=1e-6)


def test_max_pooling_ignores_padding_even_when_features_are_negative() -> None:
    pooling = Pooling("max", 2)
    sequence = torch.tensor([[[-3.0, -1.0], [-2.0, -5.0], [0.0, 0.0]]])  # B=1, T=3 (last step padding)
    pooled = pooling(sequence, torch.tensor([2]), last=torch.zeros(1, 2))
    assert pooled.tolist() == [[-2.0, -1.0]]  # the zeros at padding would have won


def test_mean_pooling_divides_by_the_true_length() -> None:
    pooling = Pooling("mean", 1)
    sequence = torch.tensor([[[2.0], [4.0], [0.0], [0.0]]])  # two real steps, then padding
    assert pooling(sequence, torch.tensor([2]), last=torch.zeros(1, 1)).item() == pytest.approx(3.0)


def test_attention_weights_sum_to_one_over_real_steps() -> None:
    torch.manual_seed(0)
    pooling = Pooling("attention", 4, attention_size=3)
    sequence = torch.randn(2, 5, 4)  # B x T x H
    mask = real_steps_mask(torch.tensor([5, 2]), 5)
    weights = pooling.attention_weights(sequence, mask)  # B x T
    assert torch.allclose(weights.sum(dim=1), torch.ones(2))
    assert torch.all(weights[1, 2:] == 0)


def test_last_pooling_is_the_encoders_final_state() -> None:
    model = make_model("last", bidirectional=True)
    batch = batch_of([[3, 4, 5]])
    encoded = model.encoder(model.embedding(batch["ids"]), batch["lengths"])
    assert torch.allclose(model.encode(batch["ids"], batch["lengths"]), encoded.last, atol=1e-6)


def test_from_sizes_rebuilds_the_same_architecture() -> None:
    model = make_model("attention", "gru", num_layers=2)
    rebuilt = RNNClassifier.from_sizes(VOCAB, 4, 3, model.config)
    rebuilt.load_state_dict(model.state_dict())
    batch = batch_of([[3, 4], [5]])
    assert torch.equal(rebuilt.eval()(batch)["logits"], model(batch)["logits"])
    assert count_parameters(rebuilt) == count_parameters(model)


def test_gradients_reach_every_trainable_parameter() -> None:
    model = make_model("attention").train()
    model(batch_of([[3, 4, 5], [6]], [0, 1]))["loss"].backward()
    missing = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []


def test_frozen_embedding_is_not_counted_as_trainable() -> None:
    embedding = nn.Embedding.from_pretrained(torch.eye(VOCAB), freeze=True, padding_idx=0)
    model = RNNClassifier(embedding, 2, ClassifierConfig(hidden_size=4))
    assert count_parameters(model) - count_parameters(model, trainable_only=True) == VOCAB * VOCAB


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least 2 classes"):
        RNNClassifier(nn.Embedding(5, 2), 1, ClassifierConfig())
    with pytest.raises(ValueError, match="pooling"):
        Pooling("median", 3)
    with pytest.raises(Exception, match="pooling"):
        ClassifierConfig(pooling="median")


@pytest.mark.parametrize("pooling", ["last", "max", "mean", "attention"])
@pytest.mark.parametrize("layers", [1, 2])
def test_eval_mode_per_token_path_equals_the_encoder(pooling: str, layers: int) -> None:
    """The per-token path runs a bidirectional LSTM from per-token-id input products; same logits."""
    torch.manual_seed(4)
    config = ClassifierConfig(hidden_size=6, num_layers=layers, pooling=pooling)
    model = RNNClassifier(nn.Embedding(20, 5, padding_idx=0), 3, config).eval()
    model.per_token_inference = True
    ids = torch.tensor([[3, 4, 5, 3], [7, 3, 0, 0], [9, 0, 0, 0]])
    batch = {"ids": ids, "lengths": torch.tensor([4, 2, 1])}
    with torch.no_grad():
        fast = model(batch)["logits"]
        embedded = model.embedding(ids)
        encoded = model.encoder(embedded, batch["lengths"])
        pooled = model.pooling(encoded.sequence, batch["lengths"], encoded.last)
        slow = model.output(pooled)
    assert torch.allclose(fast, slow, atol=1e-5)


def test_adversarial_training_adds_the_loss_of_the_worst_nearby_vectors() -> None:
    plain = make_model("max")
    adversarial = make_model("max", adversarial_epsilon=0.05, adversarial_weight=0.5)
    adversarial.load_state_dict(plain.state_dict())
    batch = batch_of([[3, 4, 5], [6, 7]], [2, 0])
    assert torch.equal(adversarial(batch)["loss"], plain(batch)["loss"])  # eval mode: off
    plain.train(), adversarial.train()
    clean = plain(batch)["loss"]
    total = adversarial(batch)["loss"]
    # The perturbed loss is above the clean one (a step uphill), so the total exceeds 1.5x clean.
    assert total > 1.5 * clean
    # By hand: move each text's vectors along its own normalised gradient.
    embedded = plain.embedding(batch["ids"]).detach().requires_grad_()
    logits = plain.output(plain.encode_vectors(embedded, batch["lengths"]))
    loss = nn.functional.cross_entropy(logits, batch["labels"])
    (gradient,) = torch.autograd.grad(loss, embedded)
    lengths = batch["lengths"].view(-1, 1, 1)  # B x 1 x 1
    word_norm = (embedded.pow(2).sum(dim=(1, 2), keepdim=True) / lengths).sqrt()  # RMS over real tokens
    step = 0.05 * word_norm / gradient.norm(dim=(1, 2), keepdim=True)
    moved = plain.output(plain.encode_vectors(embedded + step * gradient, batch["lengths"]))
    expected = loss + 0.5 * nn.functional.cross_entropy(moved, batch["labels"])
    assert torch.allclose(total, expected, atol=1e-6)


def test_adversarial_training_reaches_every_parameter_and_works_with_a_frozen_embedding() -> None:
    model = make_model("attention", adversarial_epsilon=0.1).train()
    model(batch_of([[3, 4, 5], [6]], [0, 1]))["loss"].backward()
    missing = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []
    frozen = nn.Embedding.from_pretrained(torch.randn(VOCAB, 4), freeze=True, padding_idx=0)
    model = RNNClassifier(frozen, 3, ClassifierConfig(hidden_size=4, adversarial_epsilon=0.1)).train()
    model(batch_of([[3, 4, 5], [6]], [0, 1]))["loss"].backward()
    assert frozen.weight.grad is None and model.output.weight.grad is not None


@pytest.mark.parametrize("length_mode", ["packed", "masked"])
def test_a_texts_adversarial_loss_does_not_depend_on_the_padding_of_its_batch(length_mode: str) -> None:
    model = make_model("max", length_mode=length_mode, adversarial_epsilon=0.25).train()
    with torch.no_grad():
        model.embedding.weight[0] = 3.0  # a padding row that is not zero must still not count
    short, long = [5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 8]
    alone = model(batch_of([short], [1]))["loss"]
    long_alone = model(batch_of([long], [2]))["loss"]
    together = model(batch_of([short, long], [1, 2]))["loss"]  # the mean of the two texts' losses
    assert torch.allclose(2 * together - long_alone, alone, atol=1e-5)


def test_the_per_token_path_is_taken_for_bf16_products_only_unless_forced(monkeypatch) -> None:
    from nlp_rnn.models import bilstm_inference

    model = make_model("max").eval()
    batch = batch_of([[3, 4, 5], [6, 7]], [2, 0])
    calls = []
    original = bilstm_inference.encode_forms
    monkeypatch.setattr(
        bilstm_inference, "encode_forms", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    with torch.no_grad():
        model.logits(batch["ids"], batch["lengths"])
        assert calls == []
        model.logits(batch["ids"], batch["lengths"], product_dtype=torch.bfloat16)
        assert calls == [1]
        model.per_token_inference = False
        model.logits(batch["ids"], batch["lengths"], product_dtype=torch.bfloat16)
        assert calls == [1]
        model.per_token_inference = True
        model.logits(batch["ids"], batch["lengths"])
        assert calls == [1, 1]
