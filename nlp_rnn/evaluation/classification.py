"""Classification metrics and reports: accuracy, macro-F1, per-class P/R/F1, the confusion matrix
(numbers and a PNG), and the mistakes the model was most sure of.

Everything works on class indices (NumPy arrays) plus the list of label names, so it serves any
classifier; :func:`write_report` puts the pieces into a folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from nlp_rnn.fileio import atomic_file

REPORT_FILE = "report.json"
CONFUSION_FILE = "confusion.png"
MISTAKES_FILE = "mistakes.tsv"


@dataclass
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int  # gold examples of this class


@dataclass
class ClassificationReport:
    """Metrics of one evaluation; ``confusion[i][j]`` counts gold class i predicted as j."""

    labels: list[str]
    examples: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassMetrics]
    confusion: list[list[int]]
    loss: float | None = None
    extra: dict[str, float] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """The headline numbers, flat (for the trainer and pipeline metrics)."""
        flat = {"accuracy": self.accuracy, "macro_f1": self.macro_f1}
        if self.loss is not None:
            flat["loss"] = self.loss
        return {**flat, **self.extra}

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        """Per-class precision, recall, F1 and support as aligned text."""
        width = max(8, *(len(label) for label in self.labels))
        lines = [f"{'label':<{width}}  precision  recall      f1  support"]
        for label in self.labels:
            m = self.per_class[label]
            lines.append(
                f"{label:<{width}}  {m.precision:9.4f}  {m.recall:6.4f}  {m.f1:6.4f}  {m.support:7d}"
            )
        lines.append(f"{'accuracy':<{width}}  {self.accuracy:.4f} of {self.examples} examples")
        lines.append(f"{'macro-F1':<{width}}  {self.macro_f1:.4f}")
        return "\n".join(lines)


def confusion_matrix(gold: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """``num_classes x num_classes`` counts: row = gold class, column = predicted class."""
    gold, predicted = np.asarray(gold, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    if gold.shape != predicted.shape:
        raise ValueError(f"gold {gold.shape} and predicted {predicted.shape} differ in shape")
    flat = np.bincount(gold * num_classes + predicted, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def classification_report(
    gold: np.ndarray, predicted: np.ndarray, labels: Sequence[str], loss: float | None = None
) -> ClassificationReport:
    """Accuracy, macro-F1 (the unweighted mean of the per-class F1s) and per-class P/R/F1.

    A class never predicted has precision 0, one never in the gold labels recall 0 (the
    convention of scikit-learn's ``zero_division=0``); macro-F1 averages over every class.
    """
    labels = list(labels)
    matrix = confusion_matrix(gold, predicted, len(labels))
    total = int(matrix.sum())
    true_positive = np.diag(matrix).astype(np.float64)  # C
    predicted_count = matrix.sum(axis=0).astype(np.float64)  # C
    gold_count = matrix.sum(axis=1).astype(np.float64)  # C
    precision = np.divide(
        true_positive, predicted_count, out=np.zeros_like(true_positive), where=predicted_count > 0
    )
    recall = np.divide(true_positive, gold_count, out=np.zeros_like(true_positive), where=gold_count > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    per_class = {
        label: ClassMetrics(float(precision[i]), float(recall[i]), float(f1[i]), int(gold_count[i]))
        for i, label in enumerate(labels)
    }
    return ClassificationReport(
        labels=labels,
        examples=total,
        accuracy=float(true_positive.sum() / total) if total else 0.0,
        macro_f1=float(f1.mean()) if len(labels) else 0.0,
        per_class=per_class,
        confusion=matrix.tolist(),
        loss=loss,
    )


@dataclass
class Mistake:
    """One wrongly classified example and how sure the model was of its wrong answer."""

    index: int  # row in the evaluated data
    gold: str
    predicted: str
    confidence: float  # probability of the predicted class
    gold_probability: float
    text: str


def confident_mistakes(
    gold: np.ndarray,
    probabilities: np.ndarray,
    labels: Sequence[str],
    texts: Sequence[str],
    limit: int = 20,
) -> list[Mistake]:
    """The ``limit`` wrong predictions with the highest probability on the predicted class.

    Such mistakes often reveal label noise or a pattern the model has not learned (negation,
    contrast); ties keep the data order.
    """
    predicted = probabilities.argmax(axis=1)  # N
    confidence = probabilities.max(axis=1)  # N
    wrong = np.flatnonzero(predicted != gold)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:limit]
    return [
        Mistake(
            index=int(i),
            gold=labels[int(gold[i])],
            predicted=labels[int(predicted[i])],
            confidence=float(confidence[i]),
            gold_probability=float(probabilities[i, gold[i]]),
            text=texts[i],
        )
        for i in order
    ]


def plot_confusion(
    matrix: Sequence[Sequence[int]], labels: Sequence[str], path: str | Path, title: str = ""
) -> Path:
    """Save the confusion matrix as a PNG: counts in the cells, shaded by each gold row's share."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; safe in servers and tests
    import matplotlib.pyplot as plt

    counts = np.asarray(matrix, dtype=np.int64)  # C x C
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)  # row-normalised
    size = max(3.5, 0.6 * len(labels) + 2)
    figure, axes = plt.subplots(figsize=(size, size * 0.85))
    try:
        image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
        axes.set_xticks(range(len(labels)), labels=list(labels), rotation=45, ha="right")
        axes.set_yticks(range(len(labels)), labels=list(labels))
        axes.set_xlabel("predicted")
        axes.set_ylabel("gold")
        if title:
            axes.set_title(title)
        for i in range(len(labels)):
            for j in range(len(labels)):
                colour = "white" if shares[i, j] > 0.5 else "black"
                axes.text(j, i, str(counts[i, j]), ha="center", va="center", color=colour, fontsize=9)
        figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the gold row")
        figure.tight_layout()
        path = Path(path)
        with atomic_file(path, "wb") as handle:
            figure.savefig(handle, format="png", dpi=100)
    finally:
        plt.close(figure)
    return path


def write_report(
    folder: str | Path, report: ClassificationReport, mistakes: Sequence[Mistake], title: str = ""
) -> Path:
    """Write ``report.json``, ``confusion.png`` and ``mistakes.tsv`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_file(folder / REPORT_FILE, "w", encoding="utf-8") as handle:
        json.dump(
            {**report.to_dict(), "mistakes": [asdict(m) for m in mistakes]},
            handle,
            indent=2,
            ensure_ascii=False,
        )
        handle.write("\n")
    plot_confusion(report.confusion, report.labels, folder / CONFUSION_FILE, title)
    with atomic_file(folder / MISTAKES_FILE, "w", encoding="utf-8") as handle:
        handle.write("index\tgold\tpredicted\tconfidence\tgold_probability\ttext\n")
        for m in mistakes:
            text = " ".join(m.text.split())  # tabs and newlines would break the TSV
            handle.write(
                f"{m.index}\t{m.gold}\t{m.predicted}\t{m.confidence:.4f}\t{m.gold_probability:.4f}\t{text}\n"
            )
    return folder


def format_mistakes(mistakes: Sequence[Mistake], width: int = 100) -> str:
    """The mistakes as readable lines (for the console)."""
    lines = []
    for m in mistakes:
        text = " ".join(m.text.split())
        if len(text) > width:
            text = text[: width - 3] + "..."
        lines.append(
            f"  #{m.index:<6} gold {m.gold:<8} predicted {m.predicted:<8} p={m.confidence:.3f}  {text}"
        )
    return "\n".join(lines)
