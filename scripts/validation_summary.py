"""Every validation of one or more training runs, summarized: the best value (the one a run
keeps), the mean of all validations (what a run gives without selecting on dev) and the last.

    python scripts/validation_summary.py runs/sst2_h300_s13 runs/sst2_h300_s14 runs/sst2_h300_s15

A path is a run folder, a stage folder or a ``log.jsonl`` itself; every ``log.jsonl`` under a
folder is one training run. The best of many validations on a small dev set flatters a model
(on SST-2's 872 sentences one sentence is 0.11 points): comparing recipes by the mean of their
validations as well, over several seeds, tells a real gain from a lucky draw. With two runs or
more, the last lines give the mean and the standard deviation over runs of each column.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from nlp_rnn.training.logging_utils import LOG_FILE


@dataclass(frozen=True)
class Validations:
    """One run's validations of a metric, in step order."""

    steps: list[int]
    values: list[float]

    def best(self, mode: str) -> tuple[float, int]:
        """The best value and its step (the first step, when several tie)."""
        pick = max if mode == "max" else min
        value = pick(self.values)
        return value, self.steps[self.values.index(value)]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)


def find_logs(path: Path) -> list[tuple[str, Path]]:
    """The ``log.jsonl`` files a command-line path names (sorted), each with the name it is
    printed under: the path, and the log's folder below it when the path holds several."""
    if path.is_file():
        return [(str(path), path)]
    if not path.is_dir():
        raise SystemExit(f"error: {path}: no such file or folder")
    logs = sorted(path.rglob(LOG_FILE))
    if not logs:
        raise SystemExit(f"error: {path}: no {LOG_FILE} under it (is it a training run's folder?)")
    if len(logs) == 1:
        return [(str(path), logs[0])]
    return [(str(path / log.parent.relative_to(path)), log) for log in logs]


def read_validations(log: Path, metric: str) -> Validations:
    """The ``"kind": "eval"`` records of ``log`` that carry ``metric``; a step logged twice counts
    once, with its later value. A last line without its newline is being written (a run in
    progress) or was torn (a killed run) and is skipped, as the trainer's reader skips it."""
    by_step: dict[int, float] = {}
    logged: set[str] = set()  # the metrics validations carry, for the error message
    with log.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                if not line.endswith("\n"):  # the unfinished last line
                    break
                raise SystemExit(f"error: {log}, line {number}: not JSON ({error.msg})") from None
            if record.get("kind") != "eval":
                continue
            logged.update(key for key in record if key not in ("kind", "step", "epoch"))
            if metric in record:
                by_step[int(record["step"])] = float(record[metric])
    if not by_step:
        found = ", ".join(sorted(logged)) or "none: no validation was logged"
        raise SystemExit(f"error: {log}: no validation carries the metric {metric!r} (metrics: {found})")
    steps = sorted(by_step)
    return Validations(steps, [by_step[step] for step in steps])


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="+", type=Path, help="run folders, stage folders or log.jsonl files")
    parser.add_argument("--metric", default="accuracy", help="a metric the validations log")
    parser.add_argument("--mode", choices=("max", "min"), default="max", help="which way is better")
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="values are printed times this (default: 100 for accuracy and F1, logged as fractions; else 1)",
    )
    args = parser.parse_args(argv)
    scale = args.scale
    if scale is None:
        scale = 100.0 if args.metric.endswith(("accuracy", "f1")) else 1.0

    found = [named for path in args.paths for named in find_logs(path)]
    names = [name for name, _ in found]
    runs = [read_validations(log, args.metric) for _, log in found]
    rows = []
    width = max(len(name) for name in names + ["mean over runs"])
    print(f"{'run':<{width}} {'n':>3} {'best':>8} {'at step':>8} {'mean':>8} {'last':>8}")
    for run, name in zip(runs, names, strict=True):
        best, step = run.best(args.mode)
        last = run.values[-1]
        rows.append(
            {"validations": len(run.values), "best": best, "step": step, "mean": run.mean, "last": last}
        )
        values = [f"{scale * value:>8.2f}" for value in (best, run.mean, last)]
        print(f"{name:<{width}} {len(run.values):>3} {values[0]} {step:>8} {values[1]} {values[2]}")
    if len(rows) > 1:
        for label, summary in (("mean over runs", statistics.fmean), ("sd over runs", statistics.stdev)):
            cells = [scale * summary([row[key] for row in rows]) for key in ("best", "mean", "last")]
            print(f"{label:<{width}} {'':>3} {cells[0]:>8.2f} {'':>8} {cells[1]:>8.2f} {cells[2]:>8.2f}")
    return rows


if __name__ == "__main__":
    main()
