"""``nlp-rnn tag``: fill the UPOS/XPOS columns of a CoNLL-U file, or tag raw text.

The click command only parses options; :func:`tag_file` does the work and can be called from
Python. Heavy imports (torch, spaCy) happen inside it so that ``nlp-rnn --help`` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from nlp_rnn.commands import device_option, model_dir_option, precision_option
from nlp_rnn.errors import NlpRnnError


def tag_file(
    model_dir: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    input_format: str = "conllu",
    output_format: str | None = None,
    tagset: str = "upos",
    device: str = "cpu",
    precision: str = "fp32",
) -> int:
    """Tag ``input_path`` into ``output_path`` (written atomically); return the sentences tagged.

    ``input_format="conllu"``: every word line gets columns 4 and 5 from the model, everything
    else is copied byte for byte. ``"text"``: each line is sentence-split and tokenized by spaCy's
    rule-based English tokenizer; ``output_format`` is ``conllu`` (default) or ``tags``
    (``word/TAG`` pairs, one output line per input line, ``tagset`` upos or xpos).
    ``precision="bf16"`` multiplies in bf16 (:mod:`nlp_rnn.models.low_precision`).
    """
    from nlp_rnn.api import load_model
    from nlp_rnn.tasks import read_model_config

    if Path(input_path).resolve() == Path(output_path).resolve():
        raise NlpRnnError(f"{output_path}: the output would overwrite the input; choose another file")
    task = read_model_config(model_dir)["task"]
    if task != "tagging":
        raise NlpRnnError(f"{model_dir}: a {task} model, not a tagger (train one with a train_tagger stage)")
    predictor = load_model(model_dir, device=device)
    if input_format == "conllu":
        if output_format not in (None, "conllu"):
            raise NlpRnnError("CoNLL-U input gives CoNLL-U output; --output-format tags needs --format text")
        return predictor.tag_conllu(input_path, output_path, precision=precision)
    if input_format == "text":
        return predictor.tag_text(
            input_path, output_path, output_format or "conllu", tagset, precision=precision
        )
    raise NlpRnnError(f"--format must be conllu or text, got {input_format!r}")


@click.command(name="tag")
@model_dir_option("Model folder (e.g. runs/pos_ewt/model).")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to tag.",
)
@click.option(
    "--output",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Tagged file.",
)
@click.option(
    "--format",
    "input_format",
    type=click.Choice(["conllu", "text"]),
    default="conllu",
    show_default=True,
    help="conllu: fill columns 4-5 of a CoNLL-U file; text: raw text, one paragraph per line.",
)
@click.option(
    "--output-format",
    type=click.Choice(["conllu", "tags"]),
    default=None,
    help="For --format text: conllu (default) or tags (word/TAG, one line per input line).",
)
@click.option(
    "--tagset",
    type=click.Choice(["upos", "xpos"]),
    default="upos",
    show_default=True,
    help="Tags of word/TAG output.",
)
@device_option()
@precision_option()
def tag(
    model_dir: Path,
    input_path: Path,
    output_path: Path,
    input_format: str,
    output_format: str | None,
    tagset: str,
    device: str,
    precision: str,
) -> None:
    """Tag every word of a CoNLL-U file (or of raw text) with a trained POS tagger."""
    import time

    started = time.perf_counter()
    count = tag_file(
        model_dir, input_path, output_path, input_format, output_format, tagset, device, precision
    )
    seconds = time.perf_counter() - started
    click.echo(f"{count:,} sentences tagged in {seconds:.2f} s; output in {output_path}", err=True)
