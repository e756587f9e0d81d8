"""Classification metrics and reports, checked against hand-computed numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nlp_rnn.evaluation.classification import (
    CONFUSION_FILE,
    MISTAKES_FILE,
    REPORT_FILE,
    classification_report,
    confident_mistakes,
    confusion_matrix,
    format_mistakes,
    plot_confusion,
    write_report,
)

LABELS = ["a", "b", "c"]
GOLD = np.array([0, 0, 0, 1, 1, 2])
PREDICTED = np.array([0, 0, 1, 1, 2, 2])


def test_confusion_matrix_rows_are_gold_columns_predicted() -> None:
    assert confusion_matrix(GOLD, PREDICTED, 3).tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(GOLD, PREDICTED[:2], 3)


def test_report_matches_hand_computed_scores() -> None:
    report = classification_report(GOLD, PREDICTED, LABELS, loss=0.25)
    assert report.accuracy == pytest.approx(4 / 6)
    # a: P 2/2 R 2/3 F1 0.8;  b: P 1/2 R 1/2 F1 0.5;  c: P 1/2 R 1/1 F1 2/3.
    assert report.per_class["a"].f1 == pytest.approx(0.8)
    assert report.per_class["b"].precision == pytest.approx(0.5)
    assert report.per_class["c"].recall == pytest.approx(1.0)
    assert report.per_class["a"].support == 3
    assert report.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert report.metrics() == {"accuracy": report.accuracy, "macro_f1": report.macro_f1, "loss": 0.25}
    assert "macro-F1" in report.table() and "support" in report.table()


def test_classes_never_predicted_or_never_seen_score_zero() -> None:
    report = classification_report(np.array([0, 0]), np.array([0, 0]), ["x", "y"])
    assert report.accuracy == 1.0
    assert report.per_class["y"].precision == 0.0 and report.per_class["y"].f1 == 0.0
    assert report.macro_f1 == pytest.approx(0.5)  # macro-F1 averages every class, seen or not


def test_confident_mistakes_come_most_confident_first() -> None:
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.05, 0.95]])
    gold = np.array([0, 0, 0, 1])
    found = confident_mistakes(gold, probabilities, ["neg", "pos"], ["t0", "t1", "t2", "t3"], limit=5)
    assert [m.index for m in found] == [1, 2]  # rows 0 and 3 are right
    assert found[0].predicted == "pos" and found[0].gold == "neg"
    assert found[0].confidence == pytest.approx(0.8) and found[0].gold_probability == pytest.approx(0.2)
    assert len(confident_mistakes(gold, probabilities, ["neg", "pos"], ["a"] * 4, limit=1)) == 1
    assert "t1" in format_mistakes(found)


def test_write_report_writes_json_png_and_tsv(tmp_path: Path) -> None:
    report = classification_report(GOLD, PREDICTED, LABELS)
    probabilities = np.eye(3)[PREDICTED] * 0.8 + 0.2 / 3
    mistakes = confident_mistakes(GOLD, probabilities, LABELS, [f"text\t{i}" for i in range(6)])
    folder = write_report(tmp_path / "eval", report, mistakes, title="test")
    data = json.loads((folder / REPORT_FILE).read_text())
    assert data["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]] and len(data["mistakes"]) == 2
    assert (folder / CONFUSION_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = (folder / MISTAKES_FILE).read_text().splitlines()
    assert (
        rows[0].startswith("index\tgold") and rows[1].split("\t")[-1] == "text 2"
    )  # tab inside text flattened


def test_plot_confusion_handles_many_labels(tmp_path: Path) -> None:
    labels = [f"class{i}" for i in range(6)]
    path = plot_confusion(np.diag(np.arange(6)).tolist(), labels, tmp_path / "c.png")
    assert path.stat().st_size > 1000
