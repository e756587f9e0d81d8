"""The Trainer on a tiny LSTM task: logs, checkpoints, accumulation, clipping, early stopping,
exact resume (in process and after SIGKILL) and Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from training_helpers import TinyClassifier, accuracy, collate, lengths_of, make_examples, state_dicts_equal

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.models.low_precision import fast_bf16_available
from nlp_rnn.training.checkpoint import load_training_state, load_weights, read_json
from nlp_rnn.training.config import TrainerConfig
from nlp_rnn.training.logging_utils import read_jsonl
from nlp_rnn.training.trainer import Callback, FitResult, Trainer, TrainerState, fit_metrics, mean_loss

TRAIN_TINY = Path(__file__).parent / "train_tiny.py"
TRAIN = make_examples(64, seed=1)
DEV = make_examples(32, seed=2)
QUIET = {"device": "cpu", "tensorboard": False, "plot": False}


pytestmark = pytest.mark.usefixtures("one_thread")


def fit(
    output_dir: Path,
    model: torch.nn.Module | None = None,
    train: list[dict[str, Any]] = TRAIN,
    dev: list[dict[str, Any]] | None = DEV,
    evaluate: Callable | None = accuracy,
    callbacks: Sequence[Callback] = (),
    resume: bool = False,
    **settings: Any,
) -> tuple[FitResult, torch.nn.Module]:
    """Train a TinyClassifier (or ``model``) with ``settings`` on top of quiet CPU defaults."""
    config = TrainerConfig(**{**QUIET, "metric": "accuracy", "mode": "max", **settings})
    model = model if model is not None else TinyClassifier()
    result = Trainer(config, output_dir).fit(
        model,
        train,
        dev,
        collate=collate,
        evaluate=evaluate,
        lengths=lengths_of(train),
        dev_lengths=None if dev is None else lengths_of(dev),
        callbacks=callbacks,
        resume=resume,
    )
    return result, model


class Scripted:
    """An evaluate function that returns the given accuracies in turn."""

    def __init__(self, values: list[float]) -> None:
        self.values = iter(values)

    def __call__(self, model: torch.nn.Module, batches: Any) -> dict[str, float]:
        for _ in batches:  # consume them, as a real metric would
            pass
        return {"accuracy": next(self.values)}


class CrashAfterCheckpoint(Callback):
    """Raise once ``last/`` of step ``step`` is on disk: an in-process stand-in for a crash."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_checkpoint(self, kind: str, path: Path, state: TrainerState) -> None:
        if kind == "last" and state.step == self.step:
            raise RuntimeError("simulated crash")


def test_fit_learns_and_writes_logs_checkpoints_and_plots(tmp_path: Path) -> None:
    result, model = fit(
        tmp_path,
        lr=0.02,
        batch_size=8,
        max_epochs=6,
        log_every=2,
        eval_every_steps=5,
        tensorboard=True,
        plot=True,
    )
    assert result.stop_reason == "max_epochs" and result.steps == 48 and result.epochs == 6
    assert result.best_metric is not None and result.best_metric >= 0.8
    records = read_jsonl(tmp_path / "log.jsonl")
    train_records = [r for r in records if r["kind"] == "train"]
    eval_records = [r for r in records if r["kind"] == "eval"]
    assert {"step", "epoch", "loss", "lr", "tokens_per_s", "grad_norm"} <= set(train_records[0])
    # Every 5 steps and at each epoch's end (every 8), once at steps that are both (40).
    assert [r["step"] for r in eval_records] == sorted({*range(5, 49, 5), *range(8, 49, 8)})
    assert max(r["accuracy"] for r in eval_records) == result.best_metric
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best = read_json(tmp_path / "best" / "trainer_state.json")
    assert best["step"] == result.best_step and not (tmp_path / "best" / "training_state.pt").exists()
    assert read_json(tmp_path / "best" / "metrics.json")["accuracy"] == result.best_metric
    assert read_json(tmp_path / "last" / "trainer_config.json")["lr"] == 0.02
    assert state_dicts_equal(
        load_weights(TinyClassifier(seed=5), tmp_path / "last").state_dict(), model.state_dict()
    )


def test_accumulated_batches_equal_one_big_batch(tmp_path: Path) -> None:
    same_length = make_examples(16, seed=3, min_length=6, max_length=6)
    plain_sgd = {"optimizer": "sgd", "lr": 0.5, "momentum": 0.0, "weight_decay": 0.0, "max_grad_norm": None}
    common = {**plain_sgd, "shuffle": False, "max_steps": 1, "train": same_length, "dev": None}
    _, accumulated = fit(
        tmp_path / "a", TinyClassifier(dropout=0.0), batch_size=8, accumulation_steps=2, **common
    )
    _, big = fit(tmp_path / "b", TinyClassifier(dropout=0.0), batch_size=16, **common)
    initial = TinyClassifier(dropout=0.0).state_dict()
    for name, tensor in big.state_dict().items():
        assert not torch.equal(tensor, initial[name]) or name == "embedding.weight"
        torch.testing.assert_close(accumulated.state_dict()[name], tensor, rtol=0, atol=1e-6)


def test_gradient_clipping_bounds_the_update(tmp_path: Path) -> None:
    plain_sgd = {"optimizer": "sgd", "lr": 1.0, "momentum": 0.0, "weight_decay": 0.0}
    initial = TinyClassifier(dropout=0.0).state_dict()
    _, model = fit(
        tmp_path, TinyClassifier(dropout=0.0), dev=None, max_steps=1, max_grad_norm=1e-3, **plain_sgd
    )
    # With plain SGD at lr 1 the update is minus the clipped gradient: its norm is max_grad_norm.
    update = torch.cat([(model.state_dict()[n] - initial[n]).flatten() for n in initial])
    assert float(update.norm()) == pytest.approx(1e-3, rel=1e-3)
    (record,) = read_jsonl(tmp_path / "log.jsonl")
    assert record["grad_norm"] > 1e-2  # the logged norm is the one before clipping


def test_early_stopping_stops_after_patience(tmp_path: Path) -> None:
    result, _ = fit(
        tmp_path, evaluate=Scripted([0.5, 0.6, 0.6, 0.55, 0.9]), patience=2, eval_every_steps=1, max_steps=50
    )
    assert (result.stop_reason, result.steps, result.best_step, result.best_metric) == (
        "early_stopping",
        4,
        2,
        0.6,
    )
    assert read_json(tmp_path / "last" / "trainer_state.json")["stop_reason"] == "early_stopping"


def test_best_checkpoint_holds_the_best_weights(tmp_path: Path) -> None:
    class Snapshots(Callback):
        def __init__(self) -> None:
            self.weights: dict[int, dict[str, torch.Tensor]] = {}

        def on_step_end(self, state: TrainerState) -> None:
            self.weights[state.step] = {k: v.clone() for k, v in model.state_dict().items()}

    model, snapshots = TinyClassifier(), Snapshots()
    result, _ = fit(
        tmp_path,
        model,
        evaluate=Scripted([0.3, 0.2, 0.1, 0.25]),
        callbacks=[snapshots],
        metric="accuracy",
        mode="min",  # scripted values: lower is better here
        eval_every_steps=1,
        eval_every_epoch=False,
        max_steps=4,
    )
    assert (result.best_step, result.best_metric, result.stop_reason) == (3, 0.1, "max_steps")
    assert state_dicts_equal(load_file(str(tmp_path / "best" / "model.safetensors")), snapshots.weights[3])
    assert state_dicts_equal(load_file(str(tmp_path / "last" / "model.safetensors")), snapshots.weights[4])
    assert read_json(tmp_path / "best" / "metrics.json") == {"accuracy": 0.1}


RESUME_SETTINGS = {
    "adamw_cosine_tokens_accumulation": {
        "schedule": "cosine",
        "warmup_steps": 3,
        "max_tokens": 40,
        "accumulation_steps": 2,
        "eval_every_steps": 4,
        "checkpoint_every": 3,
        "max_epochs": 3,
        "lr": 0.01,
    },
    "sgd_plateau_clipping": {
        "optimizer": "sgd",
        "nesterov": True,
        "lr": 0.1,
        "schedule": "plateau",
        "plateau_patience": 0,
        "max_grad_norm": 0.5,
        "batch_size": 8,
        "checkpoint_every": 5,
        "eval_every_steps": 2,
        "max_steps": 20,
    },
    "adamw_weight_average": {
        "ema_decay": 0.9,
        "batch_size": 8,
        "checkpoint_every": 3,
        "eval_every_steps": 2,
        "max_steps": 16,
        "lr": 0.01,
    },
}


@pytest.mark.parametrize("name", list(RESUME_SETTINGS))
def test_resume_after_crash_repeats_the_uninterrupted_run(tmp_path: Path, name: str) -> None:
    settings = RESUME_SETTINGS[name]
    full, full_model = fit(tmp_path / "full", **settings)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(
            tmp_path / "crashed",
            callbacks=[CrashAfterCheckpoint(settings["checkpoint_every"] * 2)],
            **settings,
        )
    assert read_json(tmp_path / "crashed" / "last" / "trainer_state.json")["position"] > 0  # mid-epoch
    # A fresh model object with other initial weights: everything must come from the checkpoint.
    resumed, resumed_model = fit(tmp_path / "crashed", TinyClassifier(seed=9), resume=True, **settings)
    assert state_dicts_equal(resumed_model.state_dict(), full_model.state_dict())
    assert (resumed.steps, resumed.best_step, resumed.best_metric) == (
        full.steps,
        full.best_step,
        full.best_metric,
    )
    evals = [
        [r for r in read_jsonl(tmp_path / run / "log.jsonl") if r["kind"] == "eval"]
        for run in ("full", "crashed")
    ]
    assert evals[0] == evals[1]
    assert state_dicts_equal(
        *(load_file(str(tmp_path / run / "best" / "model.safetensors")) for run in ("full", "crashed"))
    )


class PerEpochExamples(Sequence):
    """Training examples in several variants of the same lengths, one per epoch (as subword
    resampling serves them); records the Trainer's ``set_epoch`` calls."""

    def __init__(self, *variants: list[dict[str, Any]]) -> None:
        self.variants, self.current, self.epochs = variants, variants[0], []

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)
        self.current = self.variants[epoch % len(self.variants)]

    def __len__(self) -> int:
        return len(self.current)

    def __getitem__(self, index):  # noqa: ANN001, ANN204 - Sequence's own signature
        return self.current[index]


def test_epoch_aware_data_serves_its_epoch_and_resumes_there(tmp_path: Path) -> None:
    reversed_ids = [{**example, "ids": example["ids"][::-1]} for example in TRAIN]
    settings = {"batch_size": 8, "max_epochs": 3, "checkpoint_every": 5}
    data = PerEpochExamples(TRAIN, reversed_ids)
    _, varied = fit(tmp_path / "varied", train=data, **settings)
    assert data.epochs == [0, 1, 2]
    _, plain = fit(tmp_path / "plain", **settings)
    assert not state_dicts_equal(varied.state_dict(), plain.state_dict())  # epoch 1 read the variant
    crashing = PerEpochExamples(TRAIN, reversed_ids)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(tmp_path / "crashed", train=crashing, callbacks=[CrashAfterCheckpoint(10)], **settings)
    assert crashing.epochs == [0, 1]  # step 10 is in epoch 1 (8 batches an epoch)
    resumed_data = PerEpochExamples(TRAIN, reversed_ids)
    _, resumed = fit(
        tmp_path / "crashed", TinyClassifier(seed=9), train=resumed_data, resume=True, **settings
    )
    assert resumed_data.epochs == [1, 2]
    assert state_dicts_equal(resumed.state_dict(), varied.state_dict())


def test_resume_of_a_finished_run_returns_or_extends(tmp_path: Path) -> None:
    first, model = fit(tmp_path, batch_size=16, max_epochs=1)
    again, _ = fit(tmp_path, batch_size=16, max_epochs=1, resume=True)
    assert again == first
    longer, _ = fit(tmp_path, batch_size=16, max_epochs=2, resume=True)
    assert (longer.steps, longer.epochs, longer.stop_reason) == (8, 2, "max_epochs")


def test_existing_run_is_not_overwritten_without_resume(tmp_path: Path) -> None:
    fit(tmp_path, batch_size=32, max_steps=1)
    with pytest.raises(NlpRnnError, match="already holds a run"):
        fit(tmp_path, batch_size=32, max_steps=1)


def test_resume_without_checkpoint_starts_fresh(tmp_path: Path) -> None:
    result, _ = fit(tmp_path, batch_size=32, max_steps=2, resume=True)
    assert result.steps == 2


def test_default_evaluate_is_mean_dev_loss(tmp_path: Path) -> None:
    result, model = fit(tmp_path, evaluate=None, metric="loss", mode="min", batch_size=32, max_steps=2)
    model.eval()
    with torch.no_grad():
        expected = mean_loss(model, [collate(DEV)])["loss"]
    assert result.last_metrics == {"loss": pytest.approx(expected, rel=1e-5)}


class NoLoss(TinyClassifier):
    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"logits": super().forward(dict(batch))["logits"]}


class NanLoss(TinyClassifier):
    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        output = super().forward(dict(batch))
        return {**output, "loss": output["loss"] * float("nan")}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "f1"}, "'f1' is not among the dev metrics"),
        ({"patience": 2, "dev": None}, "patience needs dev data"),
        ({"schedule": "plateau", "dev": None}, "plateau needs dev data"),
        ({"dev": []}, "the dev set is empty"),
        ({"model": NoLoss()}, "must return a dict with 'loss'"),
        ({"model": NanLoss(), "log_every": 1}, "the training loss became nan by step 1"),
    ],
)
def test_user_errors_are_explained(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN in a background job
    with pytest.raises(NlpRnnError, match=message):
        fit(tmp_path, batch_size=32, max_steps=1, **kwargs)
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C handling restored


def test_lengths_are_required(tmp_path: Path) -> None:
    config = TrainerConfig(**QUIET, max_steps=1)
    with pytest.raises(NlpRnnError, match="needs lengths="):
        Trainer(config, tmp_path).fit(TinyClassifier(), TRAIN, collate=collate)


def _run_tiny(output: Path, settings: dict[str, Any], *flags: str) -> subprocess.Popen:
    command = [sys.executable, str(TRAIN_TINY), str(output), "--config", json.dumps(settings), *flags]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkilled_run_resumes_to_identical_weights(tmp_path: Path) -> None:
    settings = {**RESUME_SETTINGS["adamw_cosine_tokens_accumulation"], "plot": False}
    # Both runs at once: each is mostly interpreter start-up.
    full = _run_tiny(tmp_path / "full", settings)
    killed = _run_tiny(tmp_path / "killed", settings, "--die-after-step", "6")
    assert killed.wait(timeout=120) == -signal.SIGKILL
    state = read_json(tmp_path / "killed" / "last" / "trainer_state.json")
    assert state["step"] == 6 and state["position"] > 0  # killed in the middle of epoch 0
    resumed = _run_tiny(tmp_path / "killed", settings, "--resume")
    for process in (full, resumed):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    final = [load_file(str(tmp_path / run / "last" / "model.safetensors")) for run in ("full", "killed")]
    assert state_dicts_equal(*final)
    optimizer_states = [
        load_training_state(tmp_path / run / "last")["optimizer"]["state"] for run in ("full", "killed")
    ]
    for first, second in zip(optimizer_states[0].values(), optimizer_states[1].values(), strict=True):
        assert all(torch.equal(first[key], second[key]) for key in first)


def test_ctrl_c_saves_last_and_exits_130(tmp_path: Path) -> None:
    settings = {"batch_size": 8, "max_epochs": 5, "plot": False}
    process = _run_tiny(tmp_path, settings, "--interrupt-after-step", "3")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted" in err and out == ""
    state = read_json(tmp_path / "last" / "trainer_state.json")
    assert (state["step"], state["stop_reason"]) == (3, None)
    assert load_training_state(tmp_path / "last")["trainer_state"]["step"] == 3
    load_weights(TinyClassifier(), tmp_path / "last")


@pytest.mark.skipif(not fast_bf16_available("cpu"), reason="needs a CPU with AMX or AVX512-BF16")
def test_cpu_bf16_autocast_learns_repeats_and_keeps_fp32_weights(tmp_path: Path) -> None:
    settings = {"device": "cpu", "cpu_amp": True, "lr": 0.02, "batch_size": 8, "max_epochs": 6}
    first, first_model = fit(tmp_path / "a", **settings)
    second, second_model = fit(tmp_path / "b", **settings)
    assert first.best_metric is not None and first.best_metric >= 0.8
    assert all(p.dtype == torch.float32 for p in first_model.parameters())
    assert state_dicts_equal(first_model.state_dict(), second_model.state_dict())
    _, plain_model = fit(tmp_path / "c", **{**settings, "cpu_amp": False})
    assert not state_dicts_equal(first_model.state_dict(), plain_model.state_dict())  # bf16 ran


def test_cpu_amp_without_native_bf16_trains_in_fp32_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("nlp_rnn.training.trainer.fast_bf16_available", lambda device: False)
    settings = {"device": "cpu", "lr": 0.02, "batch_size": 8, "max_epochs": 2}
    with caplog.at_level("WARNING", logger="nlp_rnn.training.trainer"):
        _, amp_model = fit(tmp_path / "a", cpu_amp=True, **settings)
    assert "no native bf16" in caplog.text
    _, plain_model = fit(tmp_path / "b", cpu_amp=False, **settings)
    assert state_dicts_equal(amp_model.state_dict(), plain_model.state_dict())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_bf16_deterministic_runs_repeat(tmp_path: Path) -> None:
    settings = {"device": "cuda", "amp": True, "deterministic": True, "batch_size": 8, "max_steps": 12}
    first, first_model = fit(tmp_path / "a", **settings)
    second, second_model = fit(tmp_path / "b", **settings)
    assert next(first_model.parameters()).device.type == "cuda"
    assert state_dicts_equal(first_model.state_dict(), second_model.state_dict())
    assert first.last_metrics == second.last_metrics


def test_worker_processes_do_not_change_the_run(tmp_path: Path) -> None:
    _, in_process = fit(tmp_path / "a", batch_size=16, max_steps=4, dev=None)
    _, with_workers = fit(tmp_path / "b", batch_size=16, max_steps=4, dev=None, num_workers=1)
    assert state_dicts_equal(in_process.state_dict(), with_workers.state_dict())


def test_fit_metrics_count_trainable_parameters_and_default_best_step(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 3))  # 40 + 15
    model[0].weight.requires_grad_(False)
    without_dev = FitResult(output_dir=tmp_path, steps=12, epochs=3, stop_reason="max_epochs")
    assert fit_metrics(model, without_dev) == {"parameters": 15, "steps": 12, "epochs": 3, "best_step": 0}
    with_dev = FitResult(output_dir=tmp_path, steps=12, epochs=3, stop_reason="max_epochs", best_step=8)
    assert fit_metrics(model, with_dev)["best_step"] == 8
