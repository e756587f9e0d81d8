"""Learning-rate schedules: linear warm-up, then constant, linear decay, cosine decay or cuts on plateau.

The schedule is a pure function of the optimizer step (plus, for ``plateau``, a small state fed by
validation results), so resuming a run needs only the step and :meth:`LearningRateSchedule.state_dict`.
No ``torch.optim.lr_scheduler`` object is kept: their state dicts may hold callables, which a
``weights_only`` checkpoint cannot store.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

ScheduleName = Literal["constant", "linear", "cosine", "plateau"]
SCHEDULES: tuple[str, ...] = ("constant", "linear", "cosine", "plateau")


def lr_factor(
    step: int,
    schedule: ScheduleName,
    warmup_steps: int = 0,
    total_steps: int | None = None,
    min_lr_ratio: float = 0.0,
) -> float:
    """The multiplier of the base learning rate for update number ``step`` (0-based).

    Warm-up rises linearly to 1 over ``warmup_steps`` updates (``(step + 1) / warmup_steps``, so
    the first update is not wasted with a zero rate). Afterwards ``constant`` and ``plateau``
    stay at 1; ``linear`` and ``cosine`` fall from 1 towards ``min_lr_ratio``, reached at
    ``total_steps`` (the last update, ``total_steps - 1``, runs just above it).
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule in ("constant", "plateau"):
        return 1.0
    if total_steps is None:
        raise ValueError(f"the {schedule} schedule needs total_steps")
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    if schedule == "linear":
        shape = 1.0 - progress
    else:
        shape = 0.5 * (1.0 + math.cos(math.pi * progress))
    return min_lr_ratio + (1.0 - min_lr_ratio) * shape


class PlateauScaler:
    """Multiplies the rate by ``factor`` after ``patience`` validations without improvement.

    Like ``torch.optim.lr_scheduler.ReduceLROnPlateau``, but its state is plain numbers and its
    result is a scale that composes with warm-up.
    """

    def __init__(
        self,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.5,
        patience: int = 2,
        min_scale: float = 0.0,
        min_delta: float = 0.0,
    ) -> None:
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.min_scale = min_scale
        self.min_delta = min_delta
        self.scale = 1.0
        self.best: float | None = None
        self.bad_evaluations = 0

    def update(self, value: float) -> bool:
        """Record a validation result; return whether the rate was cut."""
        if self.best is None or improved(value, self.best, self.mode, self.min_delta):
            self.best = value
            self.bad_evaluations = 0
            return False
        self.bad_evaluations += 1
        if self.bad_evaluations <= self.patience:
            return False
        self.bad_evaluations = 0
        new_scale = max(self.min_scale, self.scale * self.factor)
        cut = new_scale < self.scale
        self.scale = new_scale
        return cut

    def state_dict(self) -> dict[str, float | int | None]:
        return {"scale": self.scale, "best": self.best, "bad_evaluations": self.bad_evaluations}

    def load_state_dict(self, state: dict[str, float | int | None]) -> None:
        self.scale = float(state["scale"])  # type: ignore[arg-type]
        self.best = None if state["best"] is None else float(state["best"])
        self.bad_evaluations = int(state["bad_evaluations"])  # type: ignore[arg-type]


def improved(value: float, best: float, mode: Literal["min", "max"], min_delta: float = 0.0) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` in direction ``mode``."""
    return value < best - min_delta if mode == "min" else value > best + min_delta


class LearningRateSchedule:
    """The base rate times the warm-up/decay factor times the plateau scale; set before each update."""

    def __init__(
        self,
        base_lr: float,
        schedule: ScheduleName = "constant",
        warmup_steps: int = 0,
        total_steps: int | None = None,
        min_lr_ratio: float = 0.0,
        plateau: PlateauScaler | None = None,
    ) -> None:
        if schedule == "plateau" and plateau is None:
            plateau = PlateauScaler(min_scale=min_lr_ratio)
        self.base_lr = base_lr
        self.schedule = schedule
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.min_lr_ratio = min_lr_ratio
        self.plateau = plateau if schedule == "plateau" else None
        # Fail now, not at the first update after warm-up.
        lr_factor(warmup_steps, schedule, warmup_steps, total_steps, min_lr_ratio)

    def lr_at(self, step: int) -> float:
        """The rate of update number ``step`` (0-based)."""
        factor = lr_factor(step, self.schedule, self.warmup_steps, self.total_steps, self.min_lr_ratio)
        scale = self.plateau.scale if self.plateau is not None else 1.0
        return self.base_lr * factor * scale

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        """Set every parameter group's rate for update ``step``; return it."""
        lr = self.lr_at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr

    def observe(self, value: float) -> bool:
        """Feed a validation result to the plateau rule (a no-op for other schedules)."""
        return self.plateau.update(value) if self.plateau is not None else False

    def state_dict(self) -> dict[str, float | int | None]:
        return self.plateau.state_dict() if self.plateau is not None else {}

    def load_state_dict(self, state: dict[str, float | int | None]) -> None:
        if self.plateau is not None and state:
            self.plateau.load_state_dict(state)
