"""The task-agnostic training loop.

The task brings a model whose ``forward(batch)`` returns a dict with ``"loss"``, the datasets
(indexable, plus one length per example), a collate function that turns a list of examples into a
batch dict of tensors, and optionally an ``evaluate(model, batches) -> {metric: value}`` function::

    trainer = Trainer(TrainerConfig(metric="accuracy", mode="max", patience=3), "runs/sst2/train")
    result = trainer.fit(model, train, dev, collate=collate, evaluate=accuracy,
                         lengths=train_lengths, dev_lengths=dev_lengths)
    load_weights(model, result.best_dir)

Steps count optimizer updates. Within a step: forward/backward of ``accumulation_steps`` batches,
clip, set the learning rate, update. After a step, in this order: log, validate (every
``eval_every_steps`` and/or at the end of each epoch, and once more at the end of training), save
``best/`` on improvement, save ``last/`` (every ``checkpoint_every`` steps, at the end of each epoch
and when stopping), then stop on early stopping, ``max_steps`` or ``max_epochs``.

Exact resume: the order of each epoch's batches is a pure function of ``(seed, epoch)``, so
``last/`` needs only the position within that order; with it go the weights, the optimizer and
schedule state, and every RNG state, captured after everything that happened at that step. A run
restarted from it therefore repeats exactly what the killed run would have done next: bit for
bit on the CPU (tested), and on CUDA with ``deterministic: true`` (not yet checked on a GPU).

Under ``torchrun`` each process trains its shard of the batches inside DistributedDataParallel;
rank 0 alone evaluates the dev set (the full set, so metrics need no reduction) and broadcasts
the metrics, so every rank takes the same early-stopping and schedule decisions; only rank 0
writes logs and checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.graph import increment_version
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from nlp_rnn.data.batching import LengthBucketSampler, bucket_batches
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.models.low_precision import fast_bf16_available
from nlp_rnn.training import distributed
from nlp_rnn.training.averaging import WeightAverage
from nlp_rnn.training.checkpoint import (
    CONFIG_FILE,
    find_checkpoint,
    load_training_state,
    load_weights,
    read_json,
    remove_stale_temporaries,
    save_checkpoint,
)
from nlp_rnn.training.config import TrainerConfig
from nlp_rnn.training.logging_utils import RunLogger, progress_bar
from nlp_rnn.training.schedules import LearningRateSchedule, PlateauScaler, improved
from nlp_rnn.training.seeding import (
    get_rng_state,
    restore_determinism,
    seed_everything,
    set_deterministic,
    set_rng_state,
)

log = logging.getLogger(__name__)

Batch = dict[str, Any]
Collate = Callable[[list[Any]], Batch]
Evaluate = Callable[[nn.Module, Iterable[Batch]], Mapping[str, float]]

TRAINING_STATE_VERSION = 1
BUDGET_REASONS = ("max_steps", "max_epochs")


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by :meth:`Trainer.fit` after Ctrl-C, once ``last/`` has been saved.

    A ``KeyboardInterrupt``, so the CLI exits with status 130; ``fit(..., resume=True)`` continues.
    """

    def __init__(self, checkpoint: Path | None) -> None:
        super().__init__(f"training interrupted; last checkpoint: {checkpoint}")
        self.checkpoint = checkpoint


@dataclass
class TrainerState:
    """Where a run is; saved in every checkpoint. ``epoch`` counts completed epochs (0-based index
    of the current one), ``position`` the batches of the current epoch's order already used."""

    step: int = 0
    epoch: int = 0
    position: int = 0
    best_metric: float | None = None
    best_step: int | None = None
    bad_evaluations: int = 0  # validations since the best one (early stopping's counter)
    stop_reason: str | None = None  # "max_steps" | "max_epochs" | "early_stopping" once finished
    best_metrics: dict[str, float] | None = None
    last_metrics: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainerState:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


@dataclass(frozen=True)
class FitResult:
    """What :meth:`Trainer.fit` returns; the model itself holds the weights of the last step."""

    output_dir: Path
    steps: int
    epochs: int  # completed epochs
    stop_reason: str
    best_metric: float | None = None
    best_step: int | None = None
    best_metrics: dict[str, float] | None = None
    last_metrics: dict[str, float] | None = None

    @property
    def best_dir(self) -> Path | None:
        """The ``best/`` checkpoint folder (None without dev data)."""
        return self.output_dir / "best" if self.best_step is not None else None

    @property
    def last_dir(self) -> Path:
        return self.output_dir / "last"


def fit_metrics(model: nn.Module, result: FitResult) -> dict[str, int]:
    """The metrics every training stage reports about its fit: trainable parameters, steps,
    completed epochs and the step of the kept weights (0 without dev data)."""
    return {
        "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "steps": result.steps,
        "epochs": result.epochs,
        "best_step": int(result.best_step or 0),
    }


class Callback:
    """Hooks into :meth:`Trainer.fit`; subclass and override what you need.

    ``on_step_begin``, ``on_step_end`` and ``on_evaluate`` run on every rank, ``on_checkpoint``
    only on rank 0 (the one that writes). Callbacks must not consume random numbers if runs are to
    resume exactly.
    """

    def on_step_begin(self, state: TrainerState) -> None:
        """Before an update; ``state.step`` is the updates done so far (this one's 0-based index),
        also for the first update after resuming."""

    def on_step_end(self, state: TrainerState) -> None:
        """After an update and its validation, before ``last/`` is saved."""

    def on_evaluate(self, state: TrainerState, metrics: Mapping[str, float]) -> None:
        """After each validation."""

    def on_checkpoint(self, kind: str, path: Path, state: TrainerState) -> None:
        """After ``best`` or ``last`` has been written to ``path``."""


class Trainer:
    """Trains any model that follows the ``forward(batch) -> {"loss": ...}`` contract.

    ``output_dir`` receives ``last/``, ``best/``, ``log.jsonl``, ``tensorboard/`` and ``curves.png``.
    """

    def __init__(self, config: TrainerConfig, output_dir: str | Path) -> None:
        self.config = config
        self.output_dir = Path(output_dir)

    def fit(
        self,
        model: nn.Module,
        train_data: Sequence[Any],
        dev_data: Sequence[Any] | None = None,
        *,
        collate: Collate,
        evaluate: Evaluate | None = None,
        lengths: Sequence[int] | None = None,
        dev_lengths: Sequence[int] | None = None,
        callbacks: Sequence[Callback] = (),
        resume: bool = False,
        add_files: Callable[[Path], None] | None = None,
    ) -> FitResult:
        """Train ``model`` in place and return where the run ended.

        ``lengths``/``dev_lengths`` (one per example; default: the dataset's ``lengths`` attribute)
        group similar lengths into batches and count tokens. A ``train_data`` with a
        ``set_epoch(epoch)`` method has it called at the start of every epoch, before the epoch's
        examples are read (also when a resumed run re-enters an epoch), so that it can serve other
        variants of its examples each epoch. ``evaluate`` defaults to
        ``model.evaluate(batches)`` if the model has one, else to the mean dev loss. ``add_files``
        writes task files (vocabulary, model config) into every checkpoint folder. With
        ``resume=True`` the run continues from ``last/`` if there is one.

        Raises :class:`TrainingInterrupted` after Ctrl-C, once ``last/`` is saved.
        """
        env = distributed.dist_info_from_env()
        device = resolve_device(self.config.device, env.local_rank)
        info, owns_group = distributed.init_distributed(device.type)
        previous_determinism = set_deterministic(self.config.deterministic)
        interrupt = _InterruptFlag()
        run = None
        try:
            run = _Run(
                self.config,
                self.output_dir,
                info,
                device,
                model,
                train_data,
                dev_data,
                collate=collate,
                evaluate=evaluate or default_evaluate(model),
                lengths=_lengths_of(train_data, lengths, "lengths"),
                dev_lengths=None if dev_data is None else _lengths_of(dev_data, dev_lengths, "dev_lengths"),
                callbacks=callbacks,
                add_files=add_files,
                interrupt=interrupt,
            )
            run.start(resume)
            with interrupt:
                return run.train()
        finally:
            if run is not None:
                run.close()
            restore_determinism(previous_determinism)
            if owns_group:
                distributed.shutdown_distributed()


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` is CUDA when a GPU is visible, else the CPU; each torchrun process takes GPU LOCAL_RANK."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise NlpRnnError("device: cuda was asked for, but no GPU is visible; use device: auto or cpu")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def build_optimizer(model: nn.Module, config: TrainerConfig) -> torch.optim.Optimizer:
    """AdamW or SGD; weight decay only on matrices (not on biases and other vectors)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    groups = [group for group in groups if group["params"]]
    if config.optimizer == "adamw":
        # The fused kernel updates each parameter in one pass instead of a dozen element-wise ops
        # (scripts/bench_classifier.py --unfused-adamw compares the two; on SST-2 on 2 CPU cores
        # they were equal within noise). It needs floating tensors on the CPU or CUDA.
        fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
        return torch.optim.AdamW(
            groups, lr=config.lr, betas=config.betas, eps=config.eps, fused=fused or None
        )
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov)


def default_evaluate(model: nn.Module) -> Evaluate:
    """``model.evaluate(batches)`` when the model defines it, else :func:`mean_loss`."""
    if callable(getattr(model, "evaluate", None)):
        return lambda module, batches: module.evaluate(batches)
    return mean_loss


def mean_loss(model: nn.Module, batches: Iterable[Batch]) -> dict[str, float]:
    """The dev loss: the model's batch losses averaged with each batch weighted by its size."""
    total, count = 0.0, 0
    for batch in batches:
        size = _batch_size(batch)
        total += float(_loss_of(model(batch))) * size
        count += size
    return {"loss": total / max(count, 1)}


def _batch_size(batch: Batch) -> int:
    for value in batch.values():
        if isinstance(value, Tensor) and value.ndim > 0:
            return int(value.shape[0])
    return 1


def _loss_of(output: Mapping[str, Any]) -> Tensor:
    if not isinstance(output, Mapping) or "loss" not in output:
        keys = sorted(output) if isinstance(output, Mapping) else type(output).__name__
        raise NlpRnnError(
            f"the model's forward must return a dict with 'loss' when given targets; got {keys}"
        )
    return output["loss"]


def _lengths_of(data: Sequence[Any], lengths: Sequence[int] | None, name: str) -> list[int]:
    if lengths is None:
        lengths = getattr(data, "lengths", None)
    if lengths is None:
        raise NlpRnnError(f"Trainer.fit needs {name}= (one length per example) to batch by length")
    lengths = [int(length) for length in lengths]
    if len(lengths) != len(data):
        raise NlpRnnError(f"{name} has {len(lengths)} entries for {len(data)} examples")
    return lengths


def move_to_device(batch: Batch, device: torch.device) -> Batch:
    """The batch with every tensor on ``device`` (other values unchanged)."""
    if not isinstance(batch, Mapping):
        raise NlpRnnError(f"collate must return a dict of tensors, got {type(batch).__name__}")
    return {
        key: value.to(device, non_blocking=True) if isinstance(value, Tensor) else value
        for key, value in batch.items()
    }


class _InterruptFlag:
    """While active, Ctrl-C (SIGINT) only raises a flag that the loop checks after each step.

    Stopping between steps keeps the weights and optimizer consistent (a KeyboardInterrupt in the
    middle of ``optimizer.step()`` would leave half the parameters updated). A second Ctrl-C, at
    least a second after the first, aborts at once; one sooner is taken as the same press (torchrun
    forwards the terminal's SIGINT to workers that already got it).
    """

    def __init__(self) -> None:
        self.raised_at: float | None = None
        self._previous: Any = None
        self._installed = False

    @property
    def raised(self) -> bool:
        return self.raised_at is not None

    def __enter__(self) -> _InterruptFlag:
        # Signal handlers can only be installed from the main thread.
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        now = time.monotonic()
        if self.raised_at is not None:
            if now - self.raised_at >= 1.0:
                raise KeyboardInterrupt
            return
        self.raised_at = now
        # Not the logging module: its locks are not safe to take inside a signal handler.
        sys.stderr.write("\ninterrupted: saving last/ after this step (Ctrl-C again to abort at once)\n")

    def __exit__(self, *exc_info: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


@dataclass
class _Window:
    """Training numbers accumulated between two log lines."""

    loss_sum: Tensor | None = None  # on the device, to avoid a host sync per step
    steps: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.perf_counter)
    paused: float = 0.0  # seconds spent validating and checkpointing, left out of tokens/s


class _Run:
    """One call of :meth:`Trainer.fit`: the model, optimizer, data order and logs, step by step."""

    def __init__(
        self,
        config: TrainerConfig,
        output_dir: Path,
        info: distributed.DistInfo,
        device: torch.device,
        model: nn.Module,
        train_data: Sequence[Any],
        dev_data: Sequence[Any] | None,
        *,
        collate: Collate,
        evaluate: Evaluate,
        lengths: list[int],
        dev_lengths: list[int] | None,
        callbacks: Sequence[Callback],
        add_files: Callable[[Path], None] | None,
        interrupt: _InterruptFlag,
    ) -> None:
        self.config = config
        self.output_dir = output_dir
        self.info = info
        self.device = device
        self.model = model.to(device)
        self.train_data = train_data
        self.dev_data = dev_data
        self.collate = collate
        self.evaluate = evaluate
        self.lengths = lengths
        self.callbacks = list(callbacks)
        self.add_files = add_files
        self.interrupt = interrupt
        wants_cpu_amp = config.cpu_amp and device.type == "cpu"
        self.cpu_amp = wants_cpu_amp and fast_bf16_available("cpu")
        if wants_cpu_amp and not self.cpu_amp:
            # Without AMX or AVX512-BF16, oneDNN has no bf16 LSTM (it fails) and bf16 products are
            # emulated (slower than fp32): the setting would cost time and gain nothing.
            log.warning("cpu_amp: this CPU has no native bf16 (AMX or AVX512-BF16); training in fp32")
        self._check_dev_settings()
        self.sampler = LengthBucketSampler(
            lengths,
            config.batch_size,
            config.max_tokens,
            shuffle=config.shuffle,
            seed=config.seed,
            num_replicas=info.world_size,
            rank=info.rank,
        )
        self.dev_batches = (
            None if dev_lengths is None else bucket_batches(dev_lengths, *config.eval_batching, shuffle=False)
        )
        self.optimizer = build_optimizer(self.model, config)
        self.average = None if config.ema_decay is None else WeightAverage(self.model, config.ema_decay)
        self.schedule = self._build_schedule()
        self.state = TrainerState()
        self.logger: RunLogger | None = None
        self.ddp_model: nn.Module = self.model
        self.bar = progress_bar(None, 0, enabled=False)  # replaced when training starts
        self._window = _Window()

    def _check_dev_settings(self) -> None:
        needs_dev = {
            "patience": self.config.patience is not None,
            "schedule: plateau": self.config.schedule == "plateau",
        }
        for setting, used in needs_dev.items():
            if used and self.dev_data is None:
                raise NlpRnnError(f"{setting} needs dev data to validate on; pass dev_data to fit")
        if self.dev_data is not None and len(self.dev_data) == 0:
            raise NlpRnnError("the dev set is empty; pass dev_data=None to train without validation")

    def _build_schedule(self) -> LearningRateSchedule:
        config = self.config
        self.sampler.set_epoch(0)
        steps_per_epoch = math.ceil(len(self.sampler) / config.accumulation_steps)
        if steps_per_epoch == 0:
            raise NlpRnnError("the training set is empty")
        # With max_tokens the batch count varies a little between epochs; epoch 0's is close enough.
        budgets = [
            config.max_steps,
            None if config.max_epochs is None else config.max_epochs * steps_per_epoch,
        ]
        self.total_steps = min(b for b in budgets if b is not None)
        plateau = PlateauScaler(
            config.mode, config.plateau_factor, config.plateau_patience, config.min_lr_ratio, config.min_delta
        )
        return LearningRateSchedule(
            config.lr, config.schedule, config.warmup_steps, self.total_steps, config.min_lr_ratio, plateau
        )

    # --- starting and resuming -----------------------------------------------------------------

    def start(self, resume: bool) -> None:
        """Load ``last/`` when resuming, else seed; open the logs; wrap the model for DDP."""
        last = self.output_dir / "last"
        checkpoint = find_checkpoint(last)
        if checkpoint is not None and not resume:
            raise NlpRnnError(
                f"{self.output_dir} already holds a run (last/ exists); "
                "resume it, or delete it / choose another output folder"
            )
        if self.info.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(self.output_dir)
        rng_state = None
        if checkpoint is not None:
            rng_state = self._restore(checkpoint)
        else:
            if resume:
                log.info("no checkpoint in %s; starting from scratch", last)
            # Seed here, not only before the model was built, so that the dropout stream does not
            # depend on how many random numbers building the model drew. Ranks differ on purpose.
            seed_everything(self.config.seed + self.info.rank)
        self.logger = RunLogger(
            self.output_dir,
            self.config.metric,
            enabled=self.info.is_main,
            tensorboard=self.config.tensorboard,
            plot=self.config.plot,
            resume_step=self.state.step if checkpoint is not None else None,
        )
        self.ddp_model = distributed.wrap_model(self.model, self.device)
        if rng_state is not None:
            # Last of all: nothing may draw random numbers between this and the first step.
            set_rng_state(rng_state)

    def _restore(self, checkpoint: Path) -> dict[str, Any] | None:
        """Load weights, optimizer, schedule and progress; return this rank's RNG state to set."""
        self._warn_about_changed_config(checkpoint)
        load_weights(self.model, checkpoint)
        saved = load_training_state(checkpoint)
        self.optimizer.load_state_dict(saved["optimizer"])
        self.schedule.load_state_dict(saved["schedule"])
        self.state = TrainerState.from_dict(saved["trainer_state"])
        if self.average is not None:
            if "ema" in saved:
                self.average.load_state_dict(saved["ema"])
            else:
                log.warning("the checkpoint has no weight average: averaging starts from its weights")
        if self.state.stop_reason in BUDGET_REASONS:
            self.state.stop_reason = None  # the budget may have been raised; the loop re-checks it
        log.info("resuming from %s at step %d (epoch %d)", checkpoint, self.state.step, self.state.epoch)
        rng_states = saved["rng"]
        if len(rng_states) == self.info.world_size:
            return rng_states[self.info.rank]
        log.warning(
            "the checkpoint was written by %d processes, this run has %d: random streams are reseeded, "
            "so the run will not repeat the original exactly",
            len(rng_states),
            self.info.world_size,
        )
        seed_everything(self.config.seed + self.info.rank + self.state.step)
        return None

    def _warn_about_changed_config(self, checkpoint: Path) -> None:
        config_file = checkpoint / CONFIG_FILE
        if not config_file.is_file():
            return
        saved = read_json(config_file)
        current = json.loads(self.config.model_dump_json())
        changed = sorted(key for key in set(saved) | set(current) if saved.get(key) != current.get(key))
        if changed:
            log.warning("resuming with changed settings (%s): the run will differ from the original", changed)

    # --- the loop ---------------------------------------------------------------------------------

    def train(self) -> FitResult:
        """Run epochs until a budget, early stopping or Ctrl-C ends the run."""
        self.bar = progress_bar(self.total_steps, self.state.step, self.info.is_main)
        try:
            while self.state.stop_reason is None:
                reason = self._budget_reason()
                if reason is not None:  # already spent when resuming a finished run
                    self.state.stop_reason = reason
                    break
                self._train_epoch()
        finally:
            self.bar.close()
        log.info("training stopped at step %d: %s", self.state.step, self.state.stop_reason)
        return self._result()

    def _budget_reason(self) -> str | None:
        config, state = self.config, self.state
        if config.max_steps is not None and state.step >= config.max_steps:
            return "max_steps"
        if config.max_epochs is not None and state.epoch >= config.max_epochs:
            return "max_epochs"
        return None

    def _train_epoch(self) -> None:
        """Train from the saved position to the end of the epoch (or until told to stop)."""
        self.sampler.set_epoch(self.state.epoch)
        if callable(set_data_epoch := getattr(self.train_data, "set_epoch", None)):
            set_data_epoch(self.state.epoch)
        batches = list(self.sampler)
        tokens = [sum(self.lengths[i] for i in batch) for batch in batches]
        position = self.state.position
        micro_batches = iter(self._loader(self.train_data, batches[position:], seed=self.state.epoch))
        while position < len(batches):
            count = min(self.config.accumulation_steps, len(batches) - position)
            for callback in self.callbacks:
                callback.on_step_begin(self.state)
            loss, grad_norm, lr = self._train_step(micro_batches, count)
            self._window.tokens += sum(tokens[position : position + count])
            position += count
            end_of_epoch = position == len(batches)
            self.state.step += 1
            self.state.epoch += int(end_of_epoch)
            self.state.position = 0 if end_of_epoch else position
            if self._after_step(loss, grad_norm, lr, end_of_epoch):
                return

    def _train_step(self, micro_batches: Iterator[Batch], count: int) -> tuple[Tensor, Tensor, float]:
        """One update from ``count`` batches; returns (mean loss, gradient norm before clipping, lr)."""
        self.model.train()
        loss_sum = torch.zeros((), device=self.device)
        for index in range(count):
            batch = move_to_device(next(micro_batches), self.device)
            # DDP all-reduces gradients in backward; only the group's last backward needs to.
            skip_sync = index < count - 1 and isinstance(self.ddp_model, DistributedDataParallel)
            with self.ddp_model.no_sync() if skip_sync else contextlib.nullcontext():  # type: ignore[operator]
                with self._autocast():
                    loss = _loss_of(self.ddp_model(batch))
                # Each batch's mean loss weighs 1/count: equal-sized batches give the big batch's mean.
                (loss / count).backward()
            loss_sum += loss.detach().float()
        max_norm = self.config.max_grad_norm if self.config.max_grad_norm is not None else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        lr = self.schedule.apply(self.optimizer, self.state.step)
        self.optimizer.step()
        # The fused AdamW kernel writes the weights without moving their version counters;
        # caches of values derived from the weights (the tagger's form cache, the BiLSTM's
        # prepared inference weights) compare those counters to notice new weights.
        increment_version([p for group in self.optimizer.param_groups for p in group["params"]])
        self.optimizer.zero_grad(set_to_none=True)
        if self.average is not None:
            self.average.update()
        return loss_sum / count, grad_norm, lr

    def _after_step(self, loss: Tensor, grad_norm: Tensor, lr: float, end_of_epoch: bool) -> bool:
        """Log, validate, checkpoint; return whether to stop."""
        config, state = self.config, self.state
        budget = self._budget_reason()
        self._window.loss_sum = loss if self._window.loss_sum is None else self._window.loss_sum + loss
        self._window.steps += 1
        self.bar.update(1)
        if state.step % config.log_every == 0 or budget is not None:
            self._log_training(grad_norm, lr)
        validate = self.dev_data is not None and (
            (config.eval_every_steps is not None and state.step % config.eval_every_steps == 0)
            or (end_of_epoch and config.eval_every_epoch)
            or budget is not None  # always judge the final weights
        )
        paused_at = time.perf_counter()
        metrics = self._validate() if validate else None
        if metrics is not None and state.bad_evaluations >= (config.patience or math.inf):
            state.stop_reason = "early_stopping"
        state.stop_reason = state.stop_reason or budget
        for callback in self.callbacks:
            callback.on_step_end(state)
        interrupted = distributed.any_rank(self.interrupt.raised, self.device)
        periodic = config.checkpoint_every is not None and state.step % config.checkpoint_every == 0
        if periodic or end_of_epoch or interrupted or state.stop_reason is not None:
            self._save("last", metrics)
        self._window.paused += time.perf_counter() - paused_at
        if interrupted and state.stop_reason is None:
            raise TrainingInterrupted(self.output_dir / "last")
        return state.stop_reason is not None

    def _log_training(self, grad_norm: Tensor, lr: float) -> None:
        window = self._window
        assert window.loss_sum is not None
        local = [float(window.loss_sum), float(window.steps), float(window.tokens)]
        loss_sum, steps, tokens = distributed.all_reduce_sum(local, self.device)
        elapsed = max(time.perf_counter() - window.started - window.paused, 1e-9)
        record = {
            "epoch": self.state.epoch,
            "loss": loss_sum / steps,
            "lr": lr,
            "grad_norm": float(grad_norm),
            "tokens_per_s": tokens / elapsed,
        }
        if not math.isfinite(record["loss"]):
            # The same reduced number on every rank, so all ranks stop together.
            raise NlpRnnError(
                f"the training loss became {record['loss']} by step {self.state.step}; "
                "lower lr, set max_grad_norm, or add warmup_steps"
            )
        assert self.logger is not None
        self.logger.log("train", self.state.step, record)
        self.bar.set_postfix(loss=f"{record['loss']:.4f}", tok_s=f"{record['tokens_per_s']:.0f}")
        self._window = _Window()

    # --- validation ---------------------------------------------------------------------------------

    def _validate(self) -> dict[str, float]:
        """Evaluate on rank 0, share the metrics with every rank, update best/early stopping/plateau;
        with ``ema_decay``, the averaged weights are the ones judged and saved as best/."""
        with self.average.applied() if self.average is not None else contextlib.nullcontext():
            return self._validate_current()

    def _validate_current(self) -> dict[str, float]:
        metrics = self._evaluate_dev() if self.info.is_main else None
        metrics = distributed.broadcast_object(metrics)
        config, state = self.config, self.state
        value = metrics[config.metric]
        state.last_metrics = metrics
        is_best = state.best_metric is None or improved(
            value, state.best_metric, config.mode, config.min_delta
        )
        if is_best:
            state.best_metric, state.best_step, state.best_metrics = value, state.step, metrics
            state.bad_evaluations = 0
        else:
            state.bad_evaluations += 1
        if self.schedule.observe(value):
            log.info(
                "no improvement of dev %s: learning rate cut to %.3g",
                config.metric,
                self.schedule.lr_at(state.step),
            )
        assert self.logger is not None
        self.logger.log("eval", state.step, {"epoch": state.epoch, **metrics})
        self.logger.plot(force=False)
        summary = ", ".join(f"{name}={value:.4f}" for name, value in metrics.items())
        log.info("step %d epoch %d dev: %s%s", state.step, state.epoch, summary, " (best)" if is_best else "")
        for callback in self.callbacks:
            callback.on_evaluate(state, metrics)
        if is_best:
            self._save("best", metrics)
        return metrics

    def _evaluate_dev(self) -> dict[str, float]:
        assert self.dev_data is not None and self.dev_batches is not None
        batches = (
            move_to_device(batch, self.device)
            for batch in self._loader(self.dev_data, self.dev_batches, seed=self.state.step)
        )
        self.model.eval()
        try:
            with torch.no_grad(), self._autocast():
                raw = self.evaluate(self.model, batches)
        finally:
            self.model.train()
        metrics = {str(name): float(value) for name, value in raw.items()}
        if self.config.metric not in metrics:
            raise NlpRnnError(
                f"metric: {self.config.metric!r} is not among the dev metrics the evaluate function "
                f"returned ({', '.join(sorted(metrics)) or 'none'})"
            )
        return metrics

    # --- checkpoints --------------------------------------------------------------------------------

    def _save(self, kind: str, metrics: Mapping[str, float] | None) -> None:
        """Write ``best/`` (weights, for use) or ``last/`` (weights and everything to resume)."""
        training_state = None
        if kind == "last":
            # Every rank's RNG state, so that each rank resumes its own random stream.
            rng_states = distributed.gather_objects(get_rng_state())
            training_state = {
                "version": TRAINING_STATE_VERSION,
                "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(),
                "rng": rng_states,
                "trainer_state": self.state.to_dict(),
            }
            if self.average is not None:
                training_state["ema"] = self.average.state_dict()
        if not self.info.is_main:
            return
        path = save_checkpoint(
            self.output_dir / kind,
            self.model,
            trainer_state={**self.state.to_dict(), "world_size": self.info.world_size},
            config=json.loads(self.config.model_dump_json()),
            training_state=training_state,
            metrics=metrics,
            add_files=self.add_files,
        )
        for callback in self.callbacks:
            callback.on_checkpoint(kind, path, self.state)

    # --- helpers --------------------------------------------------------------------------------------

    def _loader(self, data: Sequence[Any], batches: list[list[int]], seed: int) -> DataLoader:
        # A private generator: DataLoader draws its workers' base seed from it, and from the global
        # torch generator otherwise, which would shift the dropout stream of a resumed run.
        generator = torch.Generator().manual_seed(self.config.seed + seed)
        return DataLoader(
            data,  # type: ignore[arg-type]
            batch_sampler=batches,
            collate_fn=self.collate,
            num_workers=self.config.num_workers,
            pin_memory=self.device.type == "cuda",
            generator=generator,
        )

    def _autocast(self) -> contextlib.AbstractContextManager:
        # bf16 has fp32's exponent range, so no GradScaler is needed.
        if self.config.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        if self.cpu_amp:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _result(self) -> FitResult:
        state = self.state
        return FitResult(
            output_dir=self.output_dir,
            steps=state.step,
            epochs=state.epoch,
            stop_reason=state.stop_reason or "unknown",
            best_metric=state.best_metric,
            best_step=state.best_step,
            best_metrics=state.best_metrics,
            last_metrics=state.last_metrics,
        )

    def close(self) -> None:
        if self.logger is not None:
            self.logger.plot()
            self.logger.close()
