"""The ``nlp-rnn`` command line: a thin layer of click commands over plain library functions.

User mistakes raise :class:`nlp_rnn.errors.NlpRnnError`; the group below prints them as one
``error: ...`` line and exits non-zero, without a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from nlp_rnn import __version__
from nlp_rnn.commands.classify import classify, evaluate_classifier_command
from nlp_rnn.commands.corpus import corpus
from nlp_rnn.commands.evaluate import evaluate
from nlp_rnn.commands.forecast import forecast, train_forecaster
from nlp_rnn.commands.generate import generate, lm_perplexity
from nlp_rnn.commands.serve import serve
from nlp_rnn.commands.summarize import summarize
from nlp_rnn.commands.tag import tag
from nlp_rnn.commands.text import tokenize, vocab
from nlp_rnn.commands.translate import translate
from nlp_rnn.commands.w2v import w2v
from nlp_rnn.errors import NlpRnnError

_CONSOLE_HANDLER = "nlp_rnn.console"


class _Group(click.Group):
    """A click group that turns user errors into one clean line and a non-zero exit status."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's own signature
        try:
            return super().invoke(ctx)
        except NlpRnnError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nlp-rnn")
@click.option("-v", "--verbose", is_flag=True, help="Show debug messages.")
@click.option("-q", "--quiet", is_flag=True, help="Show warnings and errors only.")
def main(verbose: bool, quiet: bool) -> None:
    """Classic neural NLP with recurrent networks: corpora, tokenizers, word2vec, RNN models."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_CONSOLE_HANDLER)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    package_logger = logging.getLogger("nlp_rnn")
    # Replace, not stack, the console handler when main() runs several times in one process (tests).
    package_logger.handlers = [h for h in package_logger.handlers if h.get_name() != _CONSOLE_HANDLER]
    package_logger.addHandler(handler)
    package_logger.setLevel(level)
    handler.setLevel(level)


@main.command()
@click.argument("pipeline_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key (repeatable), e.g. --set stages.vocab.min_freq=2.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Corpus folder (default: $NLP_RNN_DATA, else ../shared/corpora).",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where stage outputs, metrics.json and model/ go (default: runs/<pipeline name>).",
)
@click.option("--until", metavar="STAGE", help="Stop after this stage.")
@click.option("--force", is_flag=True, help="Run every stage even if its cached output is up to date.")
def run(
    pipeline_file: Path,
    overrides: tuple[str, ...],
    data_dir: Path | None,
    run_dir: Path | None,
    until: str | None,
    force: bool,
) -> None:
    """Run the stages of PIPELINE_FILE in order, reusing stages whose inputs did not change."""
    from nlp_rnn.pipeline import load_pipeline, run_pipeline

    pipeline = load_pipeline(pipeline_file, overrides, data_dir=data_dir)
    result = run_pipeline(
        pipeline, run_dir or Path("runs") / pipeline.config.name, data_dir=data_dir, until=until, force=force
    )
    click.echo(result.report())


main.add_command(corpus)
main.add_command(tokenize)
main.add_command(vocab)
main.add_command(w2v)
main.add_command(classify)
main.add_command(evaluate_classifier_command)
main.add_command(tag)
main.add_command(evaluate)
main.add_command(forecast)
main.add_command(train_forecaster)
main.add_command(translate)
main.add_command(generate)
main.add_command(lm_perplexity)
main.add_command(summarize)
main.add_command(serve)
