"""The trainer's settings: one schema that a pipeline embeds as its ``training:`` section."""

from __future__ import annotations

from typing import Literal

import pydantic
from pydantic import Field

from nlp_rnn.config import Schema


class TrainerConfig(Schema):
    """Everything :class:`nlp_rnn.training.trainer.Trainer` needs; unknown keys are errors.

    Steps count optimizer updates: with ``accumulation_steps: 4`` one step consumes four batches.
    """

    # Optimizer.
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)  # adamw only
    eps: float = Field(1e-8, gt=0)  # adamw only
    momentum: float = Field(0.9, ge=0)  # sgd only
    nesterov: bool = False  # sgd only

    # Learning-rate schedule: linear warm-up, then one of the shapes below.
    schedule: Literal["constant", "linear", "cosine", "plateau"] = "constant"
    warmup_steps: int = Field(0, ge=0)
    min_lr_ratio: float = Field(0.0, ge=0, le=1)  # floor of linear/cosine decay and of plateau cuts
    plateau_factor: float = Field(0.5, gt=0, lt=1)  # plateau: multiply the lr by this ...
    plateau_patience: int = Field(2, ge=0)  # ... after this many validations without improvement

    # Gradients.
    max_grad_norm: float | None = Field(1.0, gt=0)  # null: no clipping (the norm is still logged)
    accumulation_steps: int = Field(1, ge=1)

    # Weight averaging: validate (and save best/) with an exponential moving average of the
    # weights, updated after every step with this decay (e.g. 0.999); null: the weights themselves.
    ema_decay: float | None = Field(None, gt=0, lt=1)

    # Batches, grouped by length. Give batch_size (sentences), max_tokens (padded tokens) or both.
    batch_size: int | None = Field(32, ge=1)
    max_tokens: int | None = Field(None, ge=1)
    eval_batch_size: int | None = Field(None, ge=1)  # null: batch_size
    eval_max_tokens: int | None = Field(None, ge=1)  # null: max_tokens
    shuffle: bool = True
    num_workers: int = Field(0, ge=0)  # DataLoader worker processes for collating

    # How long.
    max_epochs: int | None = Field(10, ge=1)
    max_steps: int | None = Field(None, ge=1)

    # Validation, early stopping, checkpoints.
    eval_every_steps: int | None = Field(None, ge=1)
    eval_every_epoch: bool = True
    metric: str = "loss"  # a key of the dict the evaluate function returns
    mode: Literal["min", "max"] = "min"
    patience: int | None = Field(None, ge=1)  # validations without improvement before stopping
    min_delta: float = Field(0.0, ge=0)  # smaller changes do not count as improvement
    checkpoint_every: int | None = Field(None, ge=1)  # steps; last/ is also saved each epoch and at the end

    # Logging.
    log_every: int = Field(10, ge=1)
    tensorboard: bool = True
    plot: bool = True

    # Hardware and reproducibility.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True  # bf16 autocast; only on CUDA
    cpu_amp: bool = False  # bf16 autocast on the CPU; only where it has AMX or AVX512-BF16 (else fp32)
    seed: int = 0
    deterministic: bool = False

    @pydantic.model_validator(mode="after")
    def _check_combinations(self) -> TrainerConfig:
        if self.batch_size is None and self.max_tokens is None:
            raise ValueError("give batch_size, max_tokens or both")
        if self.max_epochs is None and self.max_steps is None:
            raise ValueError("give max_epochs, max_steps or both")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        return self

    @property
    def eval_batching(self) -> tuple[int | None, int | None]:
        """``(batch_size, max_tokens)`` for validation batches."""
        return (
            self.eval_batch_size if self.eval_batch_size is not None else self.batch_size,
            self.eval_max_tokens if self.eval_max_tokens is not None else self.max_tokens,
        )
