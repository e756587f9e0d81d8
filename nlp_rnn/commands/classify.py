"""``nlp-rnn classify`` (label a text file) and ``nlp-rnn evaluate-classifier`` (score a labelled corpus).

Both load a model folder written by a ``train_classifier`` stage. The click commands only parse
options; :func:`classify_file` and :func:`evaluate_classifier` do the work and can be called from
Python. Heavy imports (torch, datasets) happen inside them so that ``nlp-rnn --help`` stays fast.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click

from nlp_rnn.commands import data_dir_option, device_option, model_dir_option, precision_option
from nlp_rnn.errors import InputError

CHUNK_LINES = 20_000  # lines classified at a time: memory stays flat on large files


def classify_file(
    model_dir: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    probs: bool = False,
    batch_size: int = 256,
    encoding: str = "utf-8",
    device: str = "cpu",
    precision: str = "fp32",
) -> int:
    """Write one label per input line (``label<TAB>name=p ...`` with ``probs``); return the line count.

    ``precision="bf16"`` multiplies the recurrence in bf16 (:meth:`ClassificationPredictor.predict_proba`).

    An empty (or blank) line is an error naming the file and line: silently skipping it would
    shift every later label against its line. The output appears only when every line succeeded.
    """
    from nlp_rnn.api import load_model
    from nlp_rnn.fileio import atomic_file, iter_lines
    from nlp_rnn.models.low_precision import FLOAT_PRECISIONS, check_precision
    from nlp_rnn.tasks.classification import EmptyTextError

    check_precision(precision, supported=FLOAT_PRECISIONS)  # before any output exists
    predictor = load_model(model_dir, device=device)
    labels = predictor.labels
    count = 0
    with atomic_file(output_path, "w", encoding="utf-8") as handle:
        for numbers, texts in _chunks(iter_lines(input_path, encoding), input_path):
            try:
                probabilities = predictor.predict_proba(texts, batch_size=batch_size, precision=precision)
            except EmptyTextError as exc:  # a line of only symbols the tokenizer drops
                raise InputError("no tokens in this line", input_path, numbers[exc.index]) from None
            for row in probabilities:
                best = int(row.argmax())
                if probs:
                    shown = "\t".join(f"{label}={p:.4f}" for label, p in zip(labels, row, strict=True))
                    handle.write(f"{labels[best]}\t{shown}\n")
                else:
                    handle.write(f"{labels[best]}\n")
            count += len(texts)
    return count


def _chunks(
    lines: Iterator[tuple[int, str]], path: str | os.PathLike[str]
) -> Iterator[tuple[list[int], list[str]]]:
    numbers: list[int] = []
    texts: list[str] = []
    for number, line in lines:
        if not line.strip():
            raise InputError("empty line; give one text per line (every line gets a label)", path, number)
        numbers.append(number)
        texts.append(line)
        if len(texts) == CHUNK_LINES:
            yield numbers, texts
            numbers, texts = [], []
    if texts:
        yield numbers, texts


def evaluate_classifier(
    model_dir: str | os.PathLike[str],
    source: str,
    split: str | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    format: str | None = None,
    encoding: str | None = None,
    text_column: str = "text",
    label_column: str = "label",
    output_dir: str | os.PathLike[str] | None = None,
    mistakes: int = 20,
    batch_size: int = 256,
    device: str = "cpu",
):  # -> (ClassificationReport, list[Mistake])
    """Score a model on a labelled corpus split (catalog name, local path or ``hf:owner/name``).

    ``split`` defaults to ``dev`` for catalog corpora that have one, else ``train`` (a local file is
    a single ``train`` split). With ``output_dir``, writes report.json, confusion.png, mistakes.tsv.
    """
    from nlp_rnn.api import load_model
    from nlp_rnn.data.catalog import corpus_splits, load_corpus
    from nlp_rnn.errors import NlpRnnError
    from nlp_rnn.evaluation.classification import confident_mistakes, write_report

    _quiet_progress_unless_terminal()
    predictor = load_model(model_dir, device=device)
    if split is None:
        split = "dev" if "dev" in corpus_splits(source) else "train"
    with tempfile.TemporaryDirectory(prefix="nlp-rnn-eval-") as cache_dir:  # no ~/.cache litter
        dataset = load_corpus(
            source, split, data_dir=data_dir, format=format, encoding=encoding, cache_dir=cache_dir
        )
        for column in (text_column, label_column):
            if column not in dataset.column_names:
                raise NlpRnnError(
                    f"{source} ({split}): no column {column!r}; it has {', '.join(dataset.column_names)}"
                )
        texts = [str(text) for text in dataset[text_column]]
        gold_labels = dataset[label_column]
    report, probabilities = predictor.evaluate(texts, gold_labels, batch_size, source=f"{source} ({split})")
    gold = [predictor.label_vocab.stoi[str(label)] for label in gold_labels]
    import numpy as np

    found = confident_mistakes(np.asarray(gold), probabilities, predictor.labels, texts, mistakes)
    if output_dir is not None:
        write_report(output_dir, report, found, title=f"{Path(model_dir).name} on {source} ({split})")
    return report, found


def _quiet_progress_unless_terminal() -> None:
    import sys

    import datasets

    if not sys.stderr.isatty():
        datasets.disable_progress_bars()


@click.command(name="classify")
@model_dir_option("Model folder (e.g. runs/sentiment_sst2/model).")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Text file: one text per line (no empty lines).",
)
@click.option(
    "--output",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write one label per line.",
)
@click.option("--probs", is_flag=True, help="After each label, add LABEL=PROBABILITY for every label.")
@click.option(
    "--batch-size", default=256, show_default=True, type=click.IntRange(min=1), help="Texts per batch."
)
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of the input file.")
@device_option()
@precision_option()
def classify(
    model_dir: Path,
    input_path: Path,
    output_path: Path,
    probs: bool,
    batch_size: int,
    encoding: str,
    device: str,
    precision: str,
) -> None:
    """Label every line of a text file with a trained classifier."""
    import time

    started = time.perf_counter()
    count = classify_file(model_dir, input_path, output_path, probs, batch_size, encoding, device, precision)
    seconds = time.perf_counter() - started
    click.echo(f"{count:,} lines classified in {seconds:.2f} s; labels in {output_path}", err=True)


@click.command(name="evaluate-classifier")
@model_dir_option("Model folder.")
@click.option(
    "--data",
    "source",
    required=True,
    metavar="NAME|PATH",
    help="Catalog corpus, local file or hf:owner/name.",
)
@click.option(
    "--split", default=None, help="Split to score (default: dev when the corpus has one, else train)."
)
@data_dir_option
@click.option(
    "--format", "format_", default=None, help="Format of a local file (label_text, tsv, jsonl, ...)."
)
@click.option("--encoding", default=None, help="Text encoding of a local file.")
@click.option("--text-column", default="text", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write report.json, confusion.png and mistakes.tsv here.",
)
@click.option(
    "--mistakes", default=10, show_default=True, type=click.IntRange(min=0), help="Mistakes to list."
)
@click.option("--batch-size", default=256, show_default=True, type=click.IntRange(min=1))
@device_option()
def evaluate_classifier_command(
    model_dir: Path,
    source: str,
    split: str | None,
    data_dir: str | None,
    format_: str | None,
    encoding: str | None,
    text_column: str,
    label_column: str,
    output_dir: Path | None,
    mistakes: int,
    batch_size: int,
    device: str,
) -> None:
    """Accuracy, macro-F1, per-class scores and the most confident mistakes on a labelled corpus."""
    from nlp_rnn.evaluation.classification import format_mistakes

    report, found = evaluate_classifier(
        model_dir,
        source,
        split,
        data_dir=data_dir,
        format=format_,
        encoding=encoding,
        text_column=text_column,
        label_column=label_column,
        output_dir=output_dir,
        mistakes=mistakes,
        batch_size=batch_size,
        device=device,
    )
    click.echo(report.table())
    if found:
        click.echo(f"\nthe {len(found)} most confident mistakes:")
        click.echo(format_mistakes(found))
    if output_dir is not None:
        click.echo(f"\nreport, confusion matrix and mistakes in {output_dir}")
