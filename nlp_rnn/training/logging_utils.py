"""What a run leaves in its output folder for people: JSON lines, TensorBoard events, a curve PNG.

* ``log.jsonl``: one object per logged training step (``"kind": "train"``: step, epoch, loss, lr,
  tokens_per_s, grad_norm) and per validation (``"kind": "eval"``: step, epoch and the metrics).
* ``tensorboard/``: the same numbers as scalars (``train/loss``, ``dev/<metric>``, ...).
* ``curves.png``: training loss and the chosen dev metric against the step.

Only rank 0 writes; on other ranks a :class:`RunLogger` is built with ``enabled=False`` and does
nothing.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from nlp_rnn.fileio import atomic_file

LOG_FILE = "log.jsonl"
TENSORBOARD_DIR = "tensorboard"
CURVES_FILE = "curves.png"


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file; a torn last line (the process was killed) is skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class RunLogger:
    """Appends records to ``log.jsonl`` and TensorBoard, and redraws ``curves.png`` on request.

    With ``resume_step``, records after that step (written by the run that was killed after its
    last checkpoint) are dropped, so the resumed run does not log those steps twice.
    """

    def __init__(
        self,
        output_dir: str | Path,
        metric: str,
        enabled: bool = True,
        tensorboard: bool = True,
        plot: bool = True,
        resume_step: int | None = None,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.metric = metric
        self.enabled = enabled
        self.plot_enabled = plot
        self.records: list[dict[str, Any]] = []
        self.plot_interval = 60.0
        self._plotted_at: float | None = None
        self._writer = None
        self._handle = None
        if not enabled:
            return
        log_path = self.output_dir / LOG_FILE
        if resume_step is not None:
            self.records = [r for r in read_jsonl(log_path) if r.get("step", 0) <= resume_step]
            with atomic_file(log_path) as handle:
                handle.writelines(json.dumps(r) + "\n" for r in self.records)
        self._handle = open(log_path, "a" if resume_step is not None else "w", encoding="utf-8")
        if tensorboard:
            # Imported here: TensorBoard takes a second to import and is optional.
            from torch.utils.tensorboard import SummaryWriter

            purge_step = resume_step + 1 if resume_step is not None else None
            self._writer = SummaryWriter(str(self.output_dir / TENSORBOARD_DIR), purge_step=purge_step)

    def log(self, kind: str, step: int, values: Mapping[str, Any]) -> None:
        """Record ``values`` at ``step``; ``kind`` is ``train`` or ``eval`` (TensorBoard: ``dev/``)."""
        if not self.enabled:
            return
        record = {"kind": kind, "step": step, **values}
        self.records.append(record)
        assert self._handle is not None
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()
        if self._writer is not None:
            prefix = "dev" if kind == "eval" else kind
            for name, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and name != "epoch":
                    self._writer.add_scalar(f"{prefix}/{name}", value, step)
            self._writer.flush()

    def plot(self, force: bool = True) -> None:
        """Redraw ``curves.png`` from the records so far.

        Without ``force``, at most once per :attr:`plot_interval` seconds: drawing takes a good
        fraction of a second, more than a tiny model's whole validation.
        """
        if not (self.enabled and self.plot_enabled):
            return
        now = time.monotonic()
        if not force and self._plotted_at is not None and now - self._plotted_at < self.plot_interval:
            return
        plot_curves(self.records, self.output_dir / CURVES_FILE, self.metric)
        self._plotted_at = time.monotonic()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def plot_curves(records: Iterable[Mapping[str, Any]], path: str | Path, metric: str) -> None:
    """Draw training loss and dev ``metric`` against the step into a PNG (atomically)."""
    # The object API with the Agg canvas: no pyplot global state, no GUI backend, thread-safe.
    from nlp_rnn.plotting import new_figure, save_png

    records = list(records)
    train = [(r["step"], r["loss"]) for r in records if r.get("kind") == "train" and "loss" in r]
    dev = [(r["step"], r[metric]) for r in records if r.get("kind") == "eval" and metric in r]
    figure = new_figure((10, 4))
    # Fixed margins rather than a layout engine, which costs more than the drawing itself.
    loss_axes, metric_axes = figure.subplots(1, 2, gridspec_kw={"wspace": 0.3, "left": 0.08, "right": 0.97})
    if train:
        loss_axes.plot(*zip(*train, strict=True), color="tab:blue")
    loss_axes.set(title="training loss", xlabel="step", ylabel="loss")
    if dev:
        metric_axes.plot(*zip(*dev, strict=True), marker="o", color="tab:orange")
    metric_axes.set(title=f"dev {metric}", xlabel="step", ylabel=metric)
    for axes in (loss_axes, metric_axes):
        axes.grid(alpha=0.3)
    save_png(figure, path, dpi=100)


def progress_bar(total: int | None, initial: int, enabled: bool) -> tqdm:
    """A step counter with loss and tokens/s, shown only on rank 0 when stderr is a terminal."""
    return tqdm(
        total=total,
        initial=initial,
        unit="step",
        dynamic_ncols=True,
        disable=not (enabled and sys.stderr.isatty()),
    )
