"""``nlp-rnn evaluate ...``: score predictions against references with each field's metrics.

``evaluate pos`` compares a predicted CoNLL-U file with the gold one (the work is done by
:func:`evaluate_pos`, callable from Python); ``evaluate bleu`` scores a translation file against
its references with sacreBLEU (:func:`nlp_rnn.evaluation.bleu.score_files`); ``evaluate rouge``
scores summaries against reference summaries (:func:`rouge_files`).
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


def rouge_files(
    ref: str | os.PathLike[str],
    hyp: str | os.PathLike[str],
    *,
    samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
):  # -> RougeReport
    """ROUGE-1/2/L F1 of the lines of ``hyp`` against those of ``ref`` (plain or ``.gz``), with
    bootstrap intervals; files of different lengths are an error naming both and their counts."""
    from nlp_rnn.errors import NlpRnnError
    from nlp_rnn.evaluation.rouge import rouge
    from nlp_rnn.fileio import iter_lines

    references = [text for _, text in iter_lines(ref)]
    hypotheses = [text for _, text in iter_lines(hyp)]
    if len(references) != len(hypotheses):
        raise NlpRnnError(
            f"{hyp} has {len(hypotheses)} lines but {ref} has {len(references)}; "
            "line i of the hypotheses must summarize the article of line i of the references"
        )
    if not references:
        raise NlpRnnError(f"{ref}: no lines to score")
    return rouge(hypotheses, references, samples=samples, confidence=confidence, seed=seed)


@click.group(name="evaluate")
def evaluate() -> None:
    """Score predictions against references (pos: CoNLL-U tags; bleu: translations; rouge: summaries)."""


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


@evaluate.command(name="rouge")
@click.option(
    "--ref", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Reference summaries, one per line (plain or .gz).",
)  # fmt: skip
@click.option(
    "--hyp", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Generated summaries, one per line, the references' line count.",
)  # fmt: skip
@click.option(
    "--bootstrap", "samples", default=1000, show_default=True, type=click.IntRange(min=0),
    help="Bootstrap resamples for the confidence intervals (0: none).",
)  # fmt: skip
@click.option(
    "--confidence", default=0.95, show_default=True,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Confidence level of the intervals.",
)  # fmt: skip
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap resampling.")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Also write the scores and intervals to this JSON file.",
)  # fmt: skip
def evaluate_rouge(
    ref: Path, hyp: Path, samples: int, confidence: float, seed: int, json_path: Path | None
) -> None:
    """ROUGE-1, ROUGE-2 and ROUGE-L F1 (rouge-score, stemming on) with bootstrap confidence intervals."""
    report = rouge_files(ref, hyp, samples=samples, confidence=confidence, seed=seed)
    click.echo(report.summary())
    click.echo(f"({report.pairs} pairs, {report.samples} bootstrap resamples)")
    if json_path is not None:
        from nlp_rnn.tasks import write_json

        write_json(json_path, report.to_dict())
