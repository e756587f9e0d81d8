"""``nlp-rnn summarize``: summarize a file of articles, one per line, with a trained summarizer.

The click command only parses options; :func:`summarize_file` does the work and can be called from
Python. Heavy imports (torch) happen inside it so that ``nlp-rnn --help`` stays fast.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from nlp_rnn.commands import device_option, model_dir_option, precision_option
from nlp_rnn.errors import NlpRnnError

log = logging.getLogger(__name__)


def summarize_file(
    model_dir: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    beam_size: int = 5,
    min_length: int = 0,
    max_length: int = 30,
    length_penalty: float = 1.0,
    no_repeat_ngram_size: int = 0,
    batch_size: int = 64,
    device: str = "cpu",
    precision: str = "fp32",
) -> int:
    """Summarize every line of ``input_path`` into the same line of ``output_path``; return the lines.

    The output is written atomically (a failure leaves no partial file); an empty article gives an
    empty line, and articles longer than the model's ``max_source_length`` words are cut to it
    (both are counted in a log message). ``precision`` ``"bf16"`` or ``"int8"`` (CPU) decodes
    with a low-precision copy of the model (:mod:`nlp_rnn.models.low_precision`).
    """
    from nlp_rnn.api import load_model
    from nlp_rnn.models.low_precision import check_precision
    from nlp_rnn.tasks import read_model_config
    from nlp_rnn.tasks.summarization import DecodingOptions

    check_precision(precision, device)  # before any output exists
    if Path(input_path).resolve() == Path(output_path).resolve():
        raise NlpRnnError(f"{output_path}: the output would overwrite the input; choose another file")
    task = read_model_config(model_dir)["task"]
    if task != "summarization":
        hint = " (use nlp-rnn translate for it)" if task == "translation" else ""
        raise NlpRnnError(
            f"{model_dir}: a {task} model, not a summarizer{hint}; train one with a train_summarizer stage"
        )
    predictor = load_model(model_dir, device=device)
    options = DecodingOptions(
        beam_size, min_length, max_length, length_penalty, no_repeat_ngram_size, batch_size,
        precision=precision,
    )  # fmt: skip
    lines, empty, longer = predictor.summarize_file(input_path, output_path, options)
    cap = predictor.max_source_length
    if empty:
        log.warning("%s: %d empty line(s) got empty summaries", input_path, empty)
    if longer:
        log.warning(
            "%s: %d article(s) longer than the model's max_source_length (%d words) were cut to it",
            input_path, longer, cap,
        )  # fmt: skip
    return lines


@click.command()
@model_dir_option("A summarizer's model folder (from a train_summarizer stage).")
@click.option(
    "--input", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Articles, one per line (plain or .gz), tokenized as the training text was.",
)  # fmt: skip
@click.option(
    "--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Summaries, one per line (written atomically).",
)  # fmt: skip
@click.option(
    "--beam",
    "beam_size",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Beam width (1: greedy).",
)
@click.option(
    "--min-length",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Words before a summary may end.",
)
@click.option(
    "--max-length", default=30, show_default=True, type=click.IntRange(min=1), help="Words at most."
)
@click.option(
    "--length-penalty", default=1.0, show_default=True, type=click.FloatRange(min=0), help="GNMT's alpha."
)
@click.option(
    "--no-repeat-ngram", "no_repeat_ngram_size", default=0, show_default=True, type=click.IntRange(min=0),
    help="Never repeat an n-gram of this size within a summary (0: off).",
)  # fmt: skip
@click.option(
    "--batch-size", default=64, show_default=True, type=click.IntRange(min=1), help="Articles per batch."
)
@device_option()
@precision_option(int8=True)
def summarize(
    model_dir: Path,
    input_path: Path,
    output_path: Path,
    beam_size: int,
    min_length: int,
    max_length: int,
    length_penalty: float,
    no_repeat_ngram_size: int,
    batch_size: int,
    device: str,
    precision: str,
) -> None:
    """Summarize each article of INPUT into the same line of OUTPUT (headline generation)."""
    if min_length > max_length:
        raise NlpRnnError(f"--min-length {min_length} is above --max-length {max_length}")
    lines = summarize_file(
        model_dir, input_path, output_path, beam_size=beam_size, min_length=min_length,
        max_length=max_length, length_penalty=length_penalty,
        no_repeat_ngram_size=no_repeat_ngram_size, batch_size=batch_size, device=device,
        precision=precision,
    )  # fmt: skip
    click.echo(f"summarized {lines} line(s) into {output_path}", err=True)
