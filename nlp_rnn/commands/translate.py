"""``nlp-rnn translate``: translate a file of raw sentences, one per line, with a trained model.

The click command only parses options; :func:`translate_file` does the work and can be called
from Python. Heavy imports (torch) happen inside it so that ``nlp-rnn --help`` stays fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import click

from nlp_rnn.commands import device_option, model_dir_option, precision_option
from nlp_rnn.errors import NlpRnnError


def translate_file(
    model_dir: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    beam_size: int = 5,
    batch_size: int = 64,
    length_penalty: float = 1.0,
    max_len_a: float = 1.5,
    max_len_b: float = 10,
    source_lang: str | None = None,
    target_lang: str | None = None,
    attention_path: str | os.PathLike[str] | None = None,
    n_best: int = 1,
    device: str = "cpu",
    chunk: int = 1000,
    precision: str = "fp32",
    ensemble: Sequence[str | os.PathLike[str]] = (),
) -> int:
    """Translate every line of ``input_path`` into the same line of ``output_path``; return the lines.

    Output is detokenized text, written atomically; empty lines stay empty. ``source_lang`` /
    ``target_lang``, when given, must match the model's pair. ``attention_path`` also writes one
    JSON line per input line: its source and output subwords and the attention weights (output x
    source; empty lists for an empty line). With ``n_best`` > 1 the output holds the ``n_best``
    best candidates of every line in Moses' n-best format, ``LINE ||| translation ||| score``
    (``LINE`` counted from 0; an empty line gives one empty candidate). ``precision="bf16"``
    multiplies in bf16, ``"int8"`` in int8 on the CPU (:mod:`nlp_rnn.models.low_precision`).
    ``ensemble`` names further model folders of the same pair and SentencePiece models that decode
    together with ``model_dir`` (their next-token distributions averaged at every step).
    """
    from nlp_rnn.fileio import atomic_file, chunked, iter_lines
    from nlp_rnn.models.low_precision import check_precision
    from nlp_rnn.tasks.translation import TranslationPredictor

    for other in (output_path, attention_path):
        if other is not None and Path(input_path).resolve() == Path(other).resolve():
            raise NlpRnnError(f"{other}: the output would overwrite the input; choose another file")
    check_precision(precision, device)  # before any output exists
    predictor = TranslationPredictor.load_ensemble([model_dir, *ensemble], device=device)
    for side, asked, known in (
        ("source", source_lang, predictor.source_lang),
        ("target", target_lang, predictor.target_lang),
    ):
        if asked is not None and asked != known:
            raise NlpRnnError(
                f"{model_dir}: this model translates {predictor.source_lang} -> {predictor.target_lang}; "
                f"--{side}-lang {asked} asks for another {side} language"
            )
    count = 0
    with ExitStack() as stack:
        output = stack.enter_context(atomic_file(output_path, "w", encoding="utf-8", newline="\n"))
        weights = None
        if attention_path is not None:
            weights = stack.enter_context(atomic_file(attention_path, "w", encoding="utf-8", newline="\n"))
        for lines in chunked((text for _, text in iter_lines(input_path)), chunk):
            translations = predictor.translate(
                lines,
                beam_size=beam_size,
                batch_size=batch_size,
                length_penalty=length_penalty,
                max_len_a=max_len_a,
                max_len_b=max_len_b,
                return_attention=weights is not None,
                n_best=n_best,
                precision=precision,
            )
            if n_best == 1:
                output.write("".join(t.text.replace("\n", " ") + "\n" for t in translations))
            else:
                output.write("".join(_n_best_lines(count + i, t) for i, t in enumerate(translations)))
            if weights is not None:
                for t in translations:
                    weights.write(json.dumps(predictor.attention_record(t), ensure_ascii=False) + "\n")
            count += len(lines)
    return count


def _n_best_lines(line: int, translation) -> str:  # translation: nlp_rnn.tasks.translation.Translation
    if not translation.candidates:
        return f"{line} |||  ||| 0\n"
    return "".join(
        f"{line} ||| {candidate.text.replace(chr(10), ' ')} ||| {candidate.score:.4f}\n"
        for candidate in translation.candidates
    )


@click.command(name="translate")
@model_dir_option("Model folder (e.g. runs/translate_multi30k_deen_cpu/model).")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Source sentences, raw text, one per line (.gz too).",
)
@click.option(
    "--output",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the translations go, one per input line.",
)
@click.option(
    "--beam",
    "beam_size",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Beam width; 1 is greedy search.",
)
@click.option(
    "--batch-size",
    default=64,
    show_default=True,
    type=click.IntRange(min=1),
    help="Sentences per decoding batch.",
)
@click.option(
    "--length-penalty",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="GNMT's alpha for beam search.",
)
@click.option("--max-len-a", default=1.5, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option(
    "--max-len-b",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="At most a * source subwords + b output subwords per sentence.",
)
@click.option("--source-lang", help="Check that the model translates from this language.")
@click.option("--target-lang", help="Check that the model translates into this language.")
@click.option(
    "--attention",
    "attention_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the attention weights of every line (JSON lines).",
)
@click.option(
    "--n-best",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Write this many candidates per line (Moses format: LINE ||| text ||| score); at most --beam.",
)
@click.option(
    "--ensemble",
    "ensemble",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Another model folder of the same pair and subwords to decode with --model (averaged "
    "next-token distributions); repeat for more.",
)
@device_option()
@precision_option(int8=True)
def translate(
    model_dir: Path,
    input_path: Path,
    output_path: Path,
    beam_size: int,
    batch_size: int,
    length_penalty: float,
    max_len_a: float,
    max_len_b: float,
    source_lang: str | None,
    target_lang: str | None,
    attention_path: Path | None,
    n_best: int,
    device: str,
    precision: str,
    ensemble: tuple[Path, ...],
) -> None:
    """Translate INPUT (raw text, one sentence per line) into OUTPUT, line by line."""
    count = translate_file(
        model_dir,
        input_path,
        output_path,
        beam_size=beam_size,
        batch_size=batch_size,
        length_penalty=length_penalty,
        max_len_a=max_len_a,
        max_len_b=max_len_b,
        source_lang=source_lang,
        target_lang=target_lang,
        attention_path=attention_path,
        n_best=n_best,
        device=device,
        precision=precision,
        ensemble=ensemble,
    )
    click.echo(f"translated {count} line(s) into {output_path}", err=True)
