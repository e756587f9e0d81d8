"""The recurrent language model: shapes for every cell, depth, tying and conditioning; the state
carried across segments equals reading the text in one piece; labels change the output."""

from __future__ import annotations

import pytest
import torch

from nlp_rnn.models.language_model import LanguageModelConfig, RNNLanguageModel

V = 13


def model_for(num_labels: int = 0, **settings) -> RNNLanguageModel:
    torch.manual_seed(0)
    config = LanguageModelConfig(
        **{"embedding_dim": 8, "hidden_size": 12, "dropout": 0.0, "embedding_dropout": 0.0, **settings}
    )
    return RNNLanguageModel(config, V, num_labels=num_labels)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("tie", [True, False])
@pytest.mark.parametrize("conditioning", ["none", "init", "input", "both"])
def test_forward_shapes_and_loss(cell: str, num_layers: int, tie: bool, conditioning: str) -> None:
    labels = 0 if conditioning == "none" else 3
    options = {} if conditioning == "none" else {"conditioning": conditioning}
    model = model_for(labels, cell=cell, num_layers=num_layers, tie_embeddings=tie, **options)
    batch = {"inputs": torch.randint(1, V, (4, 7)), "targets": torch.randint(1, V, (4, 7))}
    batch["targets"][0, 5:] = 0  # padding is not scored
    if labels:
        batch["labels"] = torch.tensor([0, 1, 2, 1])
    output = model(batch)
    assert output["logits"].shape == (4, 7, V)
    assert torch.isfinite(output["loss"]) and output["loss"].ndim == 0
    output["loss"].backward()
    assert (model.output.weight is model.embedding.weight) == tie
    state = model.initial_state(4, batch.get("labels"))
    h = state[0] if cell == "lstm" else state
    assert h.shape == (num_layers, 4, 12)


def test_padding_targets_are_ignored() -> None:
    model = model_for()
    inputs, targets = torch.randint(1, V, (2, 6)), torch.randint(1, V, (2, 6))
    short = targets.clone()
    short[1, 3:] = 0
    logits = model({"inputs": inputs})["logits"]
    expected = torch.nn.functional.cross_entropy(
        logits[torch.cat([targets[:1], short[1:]]) != 0], short[short != 0]
    )
    assert model({"inputs": inputs, "targets": short})["loss"].item() == pytest.approx(
        expected.item(), rel=1e-6
    )


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_carried_state_continues_the_stream(cell: str) -> None:
    model = model_for(cell=cell, num_layers=2).eval()
    text = torch.randint(1, V, (3, 10))
    whole = model({"inputs": text, "segment": 0})["logits"]
    model({"inputs": text[:, :4], "segment": 0})
    carried = model.carried
    assert all(not part.requires_grad for part in (carried if isinstance(carried, tuple) else (carried,)))
    second = model({"inputs": text[:, 4:], "segment": 1})["logits"]
    torch.testing.assert_close(second, whole[:, 4:])
    restarted = model({"inputs": text[:, 4:], "segment": 0})["logits"]  # segment 0: a new epoch, zeros
    assert not torch.allclose(restarted, whole[:, 4:])


def test_carry_round_trips_through_tensors() -> None:
    model = model_for().eval()
    assert model.carry_tensors() == {}
    model({"inputs": torch.randint(1, V, (2, 5)), "segment": 0})
    tensors = model.carry_tensors()
    assert set(tensors) == {"h", "c"}
    other = model_for()
    other.restore_carry(tensors)
    torch.testing.assert_close(other.carried[0], model.carried[0])


@pytest.mark.parametrize("conditioning", ["init", "input", "both"])
def test_the_label_changes_the_distribution(conditioning: str) -> None:
    model = model_for(2, conditioning=conditioning).eval()
    inputs = torch.full((2, 3), 4)
    logits = model({"inputs": inputs, "labels": torch.tensor([0, 1])})["logits"]
    assert not torch.allclose(logits[0], logits[1])
    h0 = model.initial_state(2, torch.tensor([0, 1]))[0]
    assert torch.equal(h0[:, 0], h0[:, 1]) == (conditioning == "input")


def test_a_conditioned_model_needs_a_label_per_row() -> None:
    model = model_for(2)
    with pytest.raises(ValueError, match="one label per row"):
        model({"inputs": torch.full((2, 3), 4)})
