"""The weight average (EMA): its arithmetic, the swap in and out, its saved state, and the
Trainer judging and saving the averaged weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from training_helpers import TinyClassifier, collate, lengths_of, make_examples, state_dicts_equal

from nlp_rnn.training.averaging import WeightAverage
from nlp_rnn.training.config import TrainerConfig
from nlp_rnn.training.trainer import Callback, Trainer, TrainerState

pytestmark = pytest.mark.usefixtures("one_thread")


def test_average_follows_the_ramped_recurrence() -> None:
    model = torch.nn.Linear(3, 2)
    frozen = torch.nn.Parameter(torch.ones(2), requires_grad=False)
    model.register_parameter("frozen", frozen)
    average = WeightAverage(model, decay=0.9)
    expected = model.weight.detach().clone()
    for n in range(30):
        with torch.no_grad():
            model.weight.add_(torch.randn_like(model.weight))
        average.update()
        d = min(0.9, (1 + n) / (10 + n))
        expected = d * expected + (1 - d) * model.weight.detach()
    assert torch.allclose(average.average[0], expected, atol=1e-6)
    assert len(average.average) == 2  # weight and bias; the frozen parameter is not averaged


def test_applied_swaps_in_and_restores_even_after_an_error() -> None:
    model = torch.nn.Linear(3, 2)
    average = WeightAverage(model, decay=0.5)
    trained = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    average.update()  # first update: d = 0.1, so the average moves 90% of the way
    moved = model.weight.detach().clone()
    with average.applied():
        assert torch.allclose(model.weight, 0.1 * trained + 0.9 * moved)
    assert torch.equal(model.weight, moved)
    with pytest.raises(RuntimeError), average.applied():
        raise RuntimeError("boom")
    assert torch.equal(model.weight, moved)


def test_applied_weights_reach_caches_keyed_on_parameter_versions() -> None:
    # The BiLSTM's fast inference keeps prepared weights until a parameter's version moves:
    # validating with the average must use the average, and the trained weights afterwards.
    from nlp_rnn.models import bilstm_inference
    from nlp_rnn.models.encoder import RNNEncoder

    torch.manual_seed(0)
    encoder = RNNEncoder(3, 4, cell="lstm", bidirectional=True).eval()
    average = WeightAverage(encoder, decay=0.5)
    with torch.no_grad():
        for parameter in encoder.parameters():
            parameter.add_(torch.randn_like(parameter))
    average.update()
    inputs, lengths = torch.randn(2, 5, 3), torch.tensor([5, 3])

    def fast_and_ordinary() -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            weight, bias = bilstm_inference.first_layer_weights(encoder)
            projections = torch.addmm(bias, inputs.flatten(0, 1), weight.t())
            index = torch.arange(10).view(2, 5)
            fast = bilstm_inference.encode_forms(encoder, projections, index, lengths)
            return fast, encoder(inputs, lengths).sequence

    real = (torch.arange(5) < lengths[:, None]).unsqueeze(-1)
    for _ in range(2):
        fast, ordinary = fast_and_ordinary()  # the trained weights
        assert torch.allclose(fast * real, ordinary * real, atol=1e-5)
        with average.applied():
            fast_average, ordinary_average = fast_and_ordinary()
        assert torch.allclose(fast_average * real, ordinary_average * real, atol=1e-5)
        assert not torch.allclose(ordinary_average, ordinary, atol=1e-3)


def test_state_round_trips_and_rejects_another_model() -> None:
    model = torch.nn.Linear(3, 2)
    average = WeightAverage(model, decay=0.99)
    for _ in range(3):
        with torch.no_grad():
            model.weight.mul_(1.5)
        average.update()
    state = average.state_dict()
    other = WeightAverage(torch.nn.Linear(3, 2), decay=0.99)
    other.load_state_dict(state)
    assert other.updates == 3 and all(
        torch.equal(a, b) for a, b in zip(other.average, average.average, strict=True)
    )
    with pytest.raises(ValueError, match="does not fit"):
        WeightAverage(torch.nn.Linear(4, 2), decay=0.99).load_state_dict(state)
    with pytest.raises(ValueError, match="strictly between"):
        WeightAverage(model, decay=1.0)


class _Recorder(Callback):
    """Keeps the trained weights after every step."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.steps: list[dict[str, torch.Tensor]] = []

    def on_step_end(self, state: TrainerState) -> None:
        self.steps.append({k: v.detach().clone() for k, v in self.model.named_parameters()})


def test_trainer_validates_and_saves_the_average(tmp_path: Path) -> None:
    train, dev = make_examples(64, seed=1), make_examples(32, seed=2)
    seen: list[dict[str, torch.Tensor]] = []

    def evaluate(model: torch.nn.Module, batches: Any) -> dict[str, float]:
        for _ in batches:
            pass
        seen.append({k: v.detach().clone() for k, v in model.named_parameters()})
        return {"score": -float(len(seen))}  # the first validation stays the best

    model = TinyClassifier()
    initial = {k: v.detach().clone() for k, v in model.named_parameters()}
    recorder = _Recorder(model)
    config = TrainerConfig(
        device="cpu",
        tensorboard=False,
        plot=False,
        metric="score",
        mode="max",
        ema_decay=0.8,
        batch_size=16,
        max_steps=6,
        eval_every_steps=3,
        eval_every_epoch=False,
        lr=0.05,
    )
    Trainer(config, tmp_path).fit(
        model,
        train,
        dev,
        collate=collate,
        evaluate=evaluate,
        lengths=lengths_of(train),
        dev_lengths=lengths_of(dev),
        callbacks=[recorder],
    )
    expected = dict(initial)
    for n, weights in enumerate(recorder.steps[:3]):
        d = min(0.8, (1 + n) / (10 + n))
        expected = {k: d * expected[k] + (1 - d) * weights[k] for k in expected}
    assert all(torch.allclose(seen[0][k], expected[k], atol=1e-6) for k in expected)
    best = load_file(str(tmp_path / "best" / "model.safetensors"))
    assert all(torch.allclose(best[k], expected[k], atol=1e-6) for k in expected)
    # last/ holds the trained weights (to resume from), not the average.
    last = load_file(str(tmp_path / "last" / "model.safetensors"))
    assert state_dicts_equal({k: last[k] for k in recorder.steps[-1]}, recorder.steps[-1])
    assert not torch.allclose(best["output.weight"], last["output.weight"])
