"""``nlp-rnn evaluate ...``: score predictions against references with each field's metrics.

``evaluate pos`` compares a predicted CoNLL-U file with the gold one (the work is done by
:func:`evaluate_pos`, callable from Python); ``evaluate bleu`` scores a translation file against
its references with sacreBLEU (:func:`nlp_rnn.evaluation.bleu.score_files`).
"""

from __future__ import annotations

import os
from pathlib import Path

import click


def evaluate_pos(
    gold: str | os.PathLike[str],
    pred: str | os.PathLike[str],
    *,
    model_dir: str | os.PathLike[str] | None = None,
    train: str | os.PathLike[str] | None = None,
    output_dir: str | os.PathLike[str] | None = None,
):  # -> PosReport
    """UPOS/XPOS accuracy, per-tag scores and (with the training words, from the model folder or the
    training file) accuracy on unseen words; with ``output_dir``, report.json and confusion_upos.png."""
    from nlp_rnn.data.conllu import iter_sentences
    from nlp_rnn.errors import NlpRnnError
    from nlp_rnn.evaluation.pos import pos_report, read_aligned, write_pos_report

    if model_dir is not None and train is not None:
        raise NlpRnnError("give --model or --train (where the training words come from), not both")
    training_words = None
    if model_dir is not None:
        from nlp_rnn.tasks.tagging import TRAINING_WORDS_FILE

        path = Path(model_dir) / TRAINING_WORDS_FILE
        if not path.is_file():
            raise NlpRnnError(f"{model_dir}: no {TRAINING_WORDS_FILE} (is it a tagger's model folder?)")
        training_words = [w for w in path.read_text(encoding="utf-8").split("\n") if w]
    elif train is not None:
        training_words = [w for s in iter_sentences(train) for w in s["tokens"]]
    report = pos_report(read_aligned(gold, pred), training_words)
    if output_dir is not None:
        write_pos_report(output_dir, report, title=f"{Path(pred).name}: UPOS")
    return report


@click.group(name="evaluate")
def evaluate() -> None:
    """Score predictions against references (pos: CoNLL-U tags; bleu: translations)."""


@evaluate.command(name="pos")
@click.option(
    "--gold", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Gold CoNLL-U file."
)
@click.option(
    "--pred",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Predicted CoNLL-U, same words.",
)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The tagger's model folder: its training words give the accuracy on unseen words.",
)
@click.option(
    "--train",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Or the training CoNLL-U file, for the same purpose.",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where report.json and confusion_upos.png go (default: PRED's name + .eval/ beside it).",
)
def pos(gold: Path, pred: Path, model_dir: Path | None, train: Path | None, output_dir: Path | None) -> None:
    """UPOS and XPOS accuracy, accuracy on unseen words, per-tag P/R/F1 and a confusion matrix PNG."""
    output_dir = output_dir or pred.with_name(pred.name + ".eval")
    report = evaluate_pos(gold, pred, model_dir=model_dir, train=train, output_dir=output_dir)
    click.echo(report.summary())
    click.echo("\nUPOS per tag:\n" + report.upos.table())
    click.echo(f"\nreport.json and confusion_upos.png in {output_dir}")


@evaluate.command(name="bleu")
@click.option(
    "--ref",
    "refs",
    required=True,
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Reference translations, one per line (repeat for several references).",
)
@click.option(
    "--hyp",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Detokenized hypotheses, one per line, the references' line count.",
)
@click.option(
    "--tokenize", default="13a", show_default=True, help="sacreBLEU's BLEU tokenizer (13a, intl, zh, ...)."
)
@click.option("--lowercase", is_flag=True, help="Case-insensitive scores.")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the scores and signatures to this JSON file.",
)
def evaluate_bleu(
    refs: tuple[Path, ...], hyp: Path, tokenize: str, lowercase: bool, json_path: Path | None
) -> None:
    """sacreBLEU BLEU, chrF and TER of HYP against the references, with their signatures."""
    from nlp_rnn.evaluation.bleu import score_files

    scores = score_files(hyp, list(refs), tokenize=tokenize, lowercase=lowercase)
    click.echo(scores.summary())
    if json_path is not None:
        from nlp_rnn.tasks import write_json

        write_json(json_path, scores.to_dict())
