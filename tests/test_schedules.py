"""Learning-rate schedules and the trainer's config schema."""

from __future__ import annotations

import math

import pydantic
import pytest
import torch

from nlp_rnn.training.config import TrainerConfig
from nlp_rnn.training.schedules import LearningRateSchedule, PlateauScaler, improved, lr_factor


def test_warmup_rises_linearly_to_one() -> None:
    factors = [lr_factor(step, "constant", warmup_steps=4) for step in range(6)]
    assert factors == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        # warm-up 2 steps, then decay over the remaining 8 of 10 steps.
        ("constant", [0.5, 1.0, 1.0, 1.0, 1.0, 1.0]),
        ("linear", [0.5, 1.0, 1.0, 0.875, 0.5, 0.125]),
        (
            "cosine",
            [0.5, 1.0, 1.0, 0.5 * (1 + math.cos(math.pi / 8)), 0.5, 0.5 * (1 + math.cos(7 * math.pi / 8))],
        ),
    ],
)
def test_schedule_values_at_known_steps(schedule: str, expected: list[float]) -> None:
    steps = [0, 1, 2, 3, 6, 9]
    factors = [lr_factor(step, schedule, warmup_steps=2, total_steps=10) for step in steps]  # type: ignore[arg-type]
    assert factors == pytest.approx(expected)


def test_decay_stops_at_min_lr_ratio() -> None:
    assert lr_factor(10, "linear", 0, 10, min_lr_ratio=0.1) == pytest.approx(0.1)
    assert lr_factor(50, "cosine", 0, 10, min_lr_ratio=0.1) == pytest.approx(0.1)
    assert lr_factor(5, "linear", 0, 10, min_lr_ratio=0.1) == pytest.approx(0.55)


def test_decay_needs_total_steps_and_known_name() -> None:
    with pytest.raises(ValueError, match="total_steps"):
        lr_factor(3, "cosine")
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_factor(3, "exponential")  # type: ignore[arg-type]


def test_plateau_cuts_after_patience_and_respects_floor() -> None:
    scaler = PlateauScaler(mode="max", factor=0.5, patience=1, min_scale=0.2)
    cuts = [scaler.update(value) for value in [0.5, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7]]
    # 0.6 twice without improvement -> cut; 0.7 improves; then cuts to 0.25, floored at 0.2.
    assert cuts == [False, False, False, True, False, False, True, False, True]
    assert scaler.scale == pytest.approx(0.2)
    assert scaler.update(0.7) is False and scaler.update(0.7) is False  # at the floor: no more cuts


def test_plateau_state_round_trips() -> None:
    scaler = PlateauScaler(mode="min", patience=0)
    for value in [1.0, 2.0, 3.0]:
        scaler.update(value)
    restored = PlateauScaler(mode="min", patience=0)
    restored.load_state_dict(scaler.state_dict())
    assert restored.state_dict() == scaler.state_dict() == {"scale": 0.25, "best": 1.0, "bad_evaluations": 0}


def test_improved_honours_mode_and_min_delta() -> None:
    assert improved(0.9, 1.0, "min") and not improved(0.9, 1.0, "max")
    assert not improved(0.95, 1.0, "min", min_delta=0.1)


def test_schedule_sets_every_param_group() -> None:
    params = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2, 2))]
    optimizer = torch.optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=1.0)
    schedule = LearningRateSchedule(0.1, "linear", warmup_steps=0, total_steps=4)
    assert schedule.apply(optimizer, 2) == pytest.approx(0.05)
    assert [group["lr"] for group in optimizer.param_groups] == pytest.approx([0.05, 0.05])


def test_plateau_schedule_combines_warmup_and_scale() -> None:
    schedule = LearningRateSchedule(1.0, "plateau", warmup_steps=2, plateau=PlateauScaler(patience=0))
    schedule.observe(1.0)
    assert schedule.observe(2.0)  # worse, patience 0: cut to 0.5
    assert schedule.lr_at(0) == pytest.approx(0.25)
    assert schedule.lr_at(10) == pytest.approx(0.5)


def test_config_defaults_and_errors() -> None:
    config = TrainerConfig()
    assert (config.optimizer, config.batch_size, config.metric, config.mode) == ("adamw", 32, "loss", "min")
    assert TrainerConfig(batch_size=8, eval_max_tokens=100).eval_batching == (8, 100)
    with pytest.raises(pydantic.ValidationError, match="batch_size, max_tokens"):
        TrainerConfig(batch_size=None)
    with pytest.raises(pydantic.ValidationError, match="max_epochs, max_steps"):
        TrainerConfig(max_epochs=None)
    with pytest.raises(pydantic.ValidationError, match="extra"):
        TrainerConfig(learning_rate=0.1)
    with pytest.raises(pydantic.ValidationError):
        TrainerConfig(schedule="exponential")
