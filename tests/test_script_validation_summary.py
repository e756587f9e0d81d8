"""scripts/validation_summary.py: best, mean and last validation of training logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_module import load_script

summary = load_script("validation_summary")


def write_log(folder: Path, records: list[dict]) -> Path:
    """A trainer-like ``log.jsonl`` at ``folder/stages/train/train``; returns the run folder."""
    log = folder / "stages" / "train" / "train" / "log.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return folder


def evals(pairs: list[tuple[int, float]]) -> list[dict]:
    return [
        {"kind": "eval", "step": step, "epoch": 0, "accuracy": value, "loss": 1 - value}
        for step, value in pairs
    ]


def test_best_mean_and_last_of_each_run_and_over_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    first = write_log(
        tmp_path / "a",
        [{"kind": "train", "step": 10, "loss": 0.7}] + evals([(100, 0.80), (200, 0.86), (300, 0.84)]),
    )
    second = write_log(tmp_path / "b", evals([(100, 0.82), (200, 0.82)]))
    rows = summary.main([str(first), str(second)])
    expected = [
        {"validations": 3, "best": 0.86, "step": 200, "mean": 0.8333333, "last": 0.84},
        {"validations": 2, "best": 0.82, "step": 100, "mean": 0.82, "last": 0.82},
    ]
    assert rows == [pytest.approx(row) for row in expected]
    out = capsys.readouterr().out
    assert str(first) in out and "86.00" in out and "83.33" in out  # accuracies printed as percents
    assert "mean over runs" in out and "84.00" in out  # (86 + 82) / 2


def test_lower_is_better_and_unscaled_metrics(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = write_log(tmp_path / "run", evals([(1, 0.9), (2, 0.7), (3, 0.8)]))
    (row,) = summary.main([str(run), "--metric", "loss", "--mode", "min"])
    assert (row["best"], row["step"]) == (pytest.approx(0.1), 1)
    assert " 0.10 " in capsys.readouterr().out  # a loss is printed as it is


def test_a_resumed_runs_repeated_step_counts_once_with_its_later_value(tmp_path: Path) -> None:
    run = write_log(tmp_path / "run", evals([(100, 0.5), (200, 0.6), (200, 0.7)]))
    (row,) = summary.main([str(run / "stages" / "train" / "train" / "log.jsonl")])
    assert row["validations"] == 2 and row["mean"] == pytest.approx(0.6)


def test_errors_name_the_file_and_the_problem(tmp_path: Path) -> None:
    run = write_log(tmp_path / "run", evals([(100, 0.5)]))
    missing_metric = r"no validation carries the metric 'bleu' \(metrics: accuracy, loss\)"
    with pytest.raises(SystemExit, match=missing_metric):
        summary.main([str(run), "--metric", "bleu"])
    with pytest.raises(SystemExit, match="no such file or folder"):
        summary.main([str(tmp_path / "missing")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no log.jsonl under it"):
        summary.main([str(tmp_path / "empty")])
    log = run / "stages" / "train" / "train" / "log.jsonl"
    log.write_text('{"kind": "eval", "step": 1, "accuracy": 0.5}\n{broken\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"log.jsonl, line 2: not JSON"):
        summary.main([str(run)])


def test_an_unfinished_last_line_is_skipped(tmp_path: Path) -> None:
    run = write_log(tmp_path / "run", evals([(100, 0.5), (200, 0.7)]))
    log = run / "stages" / "train" / "train" / "log.jsonl"
    with log.open("a", encoding="utf-8") as file:
        file.write('{"kind": "eval", "step": 300, "accu')  # a run still writing, or killed mid-line
    (row,) = summary.main([str(run)])
    assert row["validations"] == 2 and row["last"] == pytest.approx(0.7)
