"""Train the tiny test model in a separate process (also under torchrun), for the trainer's tests.

    python tests/train_tiny.py OUTPUT_DIR [--config JSON] [--resume] [--die-after-step K]
    python -m torch.distributed.run --nproc_per_node 2 tests/train_tiny.py OUTPUT_DIR ...

Prints the FitResult as one JSON line per rank. ``--die-after-step K`` SIGKILLs the process right
after ``last/`` of step K is written (a crash at a known point); ``--interrupt-after-step K`` sends
itself SIGINT after step K, like Ctrl-C. Exits with 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from training_helpers import TinyClassifier, accuracy, collate, lengths_of, make_examples  # noqa: E402

from nlp_rnn.training.config import TrainerConfig  # noqa: E402
from nlp_rnn.training.trainer import Callback, Trainer, TrainerState, TrainingInterrupted  # noqa: E402


class SignalAfterStep(Callback):
    """Send this process ``signum`` once step ``step`` has happened (and, for SIGKILL, been saved)."""

    def __init__(self, step: int | None, signum: int, after_checkpoint: bool) -> None:
        self.step = step
        self.signum = signum
        self.after_checkpoint = after_checkpoint

    def on_step_end(self, state: TrainerState) -> None:
        if not self.after_checkpoint and state.step == self.step:
            os.kill(os.getpid(), self.signum)

    def on_checkpoint(self, kind: str, path: Path, state: TrainerState) -> None:
        if self.after_checkpoint and kind == "last" and state.step == self.step:
            os.kill(os.getpid(), self.signum)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--config", default="{}", help="TrainerConfig keys as a JSON object")
    parser.add_argument("--n-train", type=int, default=96)
    parser.add_argument("--n-dev", type=int, default=48)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--die-after-step", type=int)
    parser.add_argument("--interrupt-after-step", type=int)
    args = parser.parse_args()

    # One thread: the same float summation order in every run, and the test machine is small.
    torch.set_num_threads(1)
    settings = {"device": "cpu", "tensorboard": False, "metric": "accuracy", "mode": "max"}
    config = TrainerConfig(**{**settings, **json.loads(args.config)})
    model = TinyClassifier(dropout=args.dropout)
    train, dev = make_examples(args.n_train, seed=1), make_examples(args.n_dev, seed=2)
    callbacks = [
        SignalAfterStep(args.die_after_step, signal.SIGKILL, after_checkpoint=True),
        SignalAfterStep(args.interrupt_after_step, signal.SIGINT, after_checkpoint=False),
    ]
    try:
        result = Trainer(config, args.output_dir).fit(
            model,
            train,
            dev,
            collate=collate,
            evaluate=accuracy,
            lengths=lengths_of(train),
            dev_lengths=lengths_of(dev),
            callbacks=callbacks,
            resume=args.resume,
        )
    except TrainingInterrupted as interrupted:
        print(f"interrupted; saved {interrupted.checkpoint}", file=sys.stderr)
        return 130
    summary = {
        "rank": int(os.environ.get("RANK", 0)),
        # Equal on every rank when DDP kept the replicas in sync.
        "weights_sum": sum(float(p.double().sum()) for p in model.parameters()),
        "steps": result.steps,
        "stop_reason": result.stop_reason,
        "best_metric": result.best_metric,
        "last_metrics": result.last_metrics,
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
