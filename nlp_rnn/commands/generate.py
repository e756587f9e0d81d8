"""``nlp-rnn generate`` (sample text from a trained language model) and ``nlp-rnn lm-perplexity``
(score a text file with one).

The click commands only parse options; :func:`generate_texts` and :func:`perplexity_file` do the
work and can be called from Python. Heavy imports (torch) happen inside them so that
``nlp-rnn --help`` stays fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from nlp_rnn.commands import device_option, model_dir_option
from nlp_rnn.errors import NlpRnnError


def _load_language_model(model_dir: str | os.PathLike[str], device: str):  # -> LanguageModelPredictor
    from nlp_rnn.api import load_model
    from nlp_rnn.tasks import read_model_config

    task = read_model_config(model_dir)["task"]
    if task != "language_model":
        raise NlpRnnError(
            f"{model_dir}: a {task} model, not a language model (train one with a train_language_model stage)"
        )
    return load_model(model_dir, device=device)


def generate_texts(
    model_dir: str | os.PathLike[str],
    prompt: str = "",
    *,
    label: str | None = None,
    max_tokens: int = 200,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
    num: int = 1,
    device: str = "cpu",
):  # -> list[Generation]
    """``num`` continuations of ``prompt`` from the language model in ``model_dir`` (see
    :meth:`~nlp_rnn.tasks.language_modeling.LanguageModelPredictor.generate`)."""
    predictor = _load_language_model(model_dir, device)
    return predictor.generate(
        prompt,
        max_tokens=max_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        label=label,
        seed=seed,
        num=num,
    )


def perplexity_file(
    model_dir: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    *,
    label: str | None = None,
    labelled: bool = False,
    device: str = "cpu",
):  # -> PerplexityReport
    """Perplexity and bits per character of the text file ``input_path`` (one document per line,
    ``.gz`` too; blank lines skipped). A conditioned model scores every line with ``label``, or,
    with ``labelled``, each line ``LABEL<TAB>text`` with its own label."""
    from nlp_rnn.fileio import iter_lines
    from nlp_rnn.tasks.language_modeling import split_labelled

    if label is not None and labelled:
        raise NlpRnnError(
            "give --label (one label for every line) or --labelled (LABEL<TAB>text lines), not both"
        )
    predictor = _load_language_model(model_dir, device)

    def lines():
        return (line for _, line in iter_lines(input_path))

    if not labelled:
        return predictor.perplexity(lines(), label)
    # Two passes over the file, so that it is never held in memory.
    texts = (text for _, text in split_labelled(lines(), str(input_path)))
    labels = (label for label, _ in split_labelled(lines(), str(input_path)))
    return predictor.perplexity(texts, labels)


def bidirectional_perplexity_file(
    model_dir: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    *,
    label: str | None = None,
    labelled: bool = False,
    device: str = "cpu",
) -> dict[str, float]:
    """Perplexities of a bidirectional language model (see
    :meth:`~nlp_rnn.tasks.bidirectional_lm.BidirectionalLMPredictor.perplexity`) on the text file
    ``input_path`` (one text per line, ``.gz`` too; blank lines skipped), read as it streams."""
    from nlp_rnn.api import load_model
    from nlp_rnn.fileio import iter_lines

    if label is not None or labelled:
        raise NlpRnnError(
            f"{model_dir}: a bidirectional language model takes no labels (--label, --labelled)"
        )
    predictor = load_model(model_dir, device=device)
    return predictor.perplexity(line for _, line in iter_lines(input_path))  # blank: nothing to predict


@click.command(name="generate")
@model_dir_option("Language model folder (e.g. runs/lm_wikipedia_char/model).")
@click.option("--prompt", default="", show_default=True, help="Text to continue (empty: start a new text).")
@click.option("--label", help="Condition on this label (models trained with one, e.g. pos or neg).")
@click.option(
    "--max-tokens",
    default=200,
    show_default=True,
    type=click.IntRange(min=1),
    help="Ids to generate at most.",
)
@click.option(
    "--temperature", default=1.0, show_default=True, type=click.FloatRange(min=0), help="0 is greedy search."
)
@click.option(
    "--top-k",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Keep the k most likely (0: all).",
)
@click.option(
    "--top-p",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, max=1, min_open=True),
    help="Nucleus: keep the smallest set of ids whose probability reaches p.",
)
@click.option("--seed", type=int, help="Random seed (the same seed gives the same texts).")
@click.option("--num", default=1, show_default=True, type=click.IntRange(min=1), help="Texts to generate.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per text.")
@device_option()
def generate(
    model_dir: Path,
    prompt: str,
    label: str | None,
    max_tokens: int,
    temperature: float,
    top_k: int,
    top_p: float,
    seed: int | None,
    num: int,
    as_json: bool,
    device: str,
) -> None:
    """Generate text from a language model, one text per line."""
    generations = generate_texts(
        model_dir,
        prompt,
        label=label,
        max_tokens=max_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        num=num,
        device=device,
    )
    for generation in generations:
        if as_json:
            record = {
                "prompt": prompt,
                "label": label,
                "text": generation.text,
                "continuation": generation.continuation,
                "tokens": len(generation.ids),
                "finished": generation.finished,
                "seed": generation.seed,
            }
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            click.echo(generation.text)
    click.echo(f"generated {len(generations)} text(s) with seed {generations[0].seed}", err=True)


@click.command(name="lm-perplexity")
@model_dir_option("Language model folder.")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Text, one document per line (.gz too).",
)
@click.option("--label", help="A conditioned model's label for every line.")
@click.option("--labelled", is_flag=True, help="Lines are LABEL<TAB>text (a conditioned model).")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@device_option()
def lm_perplexity(
    model_dir: Path, input_path: Path, label: str | None, labelled: bool, as_json: bool, device: str
) -> None:
    """Perplexity (per token) and bits per character of a language model on a text file; of a
    bidirectional one (a train_bilm stage's), per predicted word of each direction and of both."""
    from nlp_rnn.tasks import read_model_config

    if read_model_config(model_dir)["task"] == "bidirectional_lm":
        scores = bidirectional_perplexity_file(
            model_dir, input_path, label=label, labelled=labelled, device=device
        )
        if as_json:
            click.echo(json.dumps(scores))
        else:
            click.echo(
                f"{int(scores['tokens'])} predictions per direction: perplexity {scores['ppl']:.4f} "
                f"(forward {scores['ppl_forward']:.4f}, backward {scores['ppl_backward']:.4f})"
            )
        return
    report = perplexity_file(model_dir, input_path, label=label, labelled=labelled, device=device)
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    else:
        click.echo(
            f"{report.documents} documents, {report.tokens} tokens, {report.characters} characters: "
            f"perplexity {report.ppl:.4f} ({report.nll:.4f} nats/token), {report.bpc:.4f} bits/char"
        )
