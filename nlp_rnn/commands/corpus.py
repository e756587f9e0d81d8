"""``nlp-rnn corpus``: inspect corpora (catalog names, local files, Hub datasets).

The commands are thin: they parse options and call :mod:`nlp_rnn.data.corpus_info`. Heavy
imports (``datasets``) happen inside the commands so that ``nlp-rnn --help`` stays fast.
"""

from __future__ import annotations

import json

import click

from nlp_rnn.commands import data_dir_option
from nlp_rnn.errors import ConfigError

FORMAT_CHOICES = (
    "conllu",
    "label_text",
    "label_files",
    "trec",
    "tsv",
    "jsonl",
    "lines",
    "parallel",
    "wikiextractor",
)


@click.group(name="corpus")
def corpus() -> None:
    """Inspect corpora: catalog names (sst2, ud_english_ewt, ...), local paths, hf:owner/name."""


@corpus.command(name="list")
def list_command() -> None:
    """List the catalog corpora and their splits."""
    from nlp_rnn.data.catalog import CATALOG

    for name in sorted(CATALOG):
        entry = CATALOG[name]
        click.echo(f"{name:16} {','.join(entry.splits):16} {entry.description}")


@corpus.command(name="info")
@click.argument("source", metavar="NAME|PATH")
@click.option("--split", default=None, help="Only this split (default: every split of a catalog corpus).")
@data_dir_option
@click.option(
    "--format", "format_", type=click.Choice(FORMAT_CHOICES), default=None, help="Format of a local path."
)
@click.option("--encoding", default=None, help="Text encoding of the files (for example latin-1).")
@click.option("--skip-invalid", is_flag=True, help="Skip and count invalid records instead of stopping.")
@click.option(
    "--cache-dir", type=click.Path(file_okay=False), default=None, help="Hugging Face datasets cache."
)
@click.option(
    "--option",
    "-o",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Catalog parameter or reader option, e.g. -o src_lang=fr or -o target=train.en.gz.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
def info_command(
    source: str,
    split: str | None,
    data_dir: str | None,
    format_: str | None,
    encoding: str | None,
    skip_invalid: bool,
    cache_dir: str | None,
    options: tuple[str, ...],
    as_json: bool,
) -> None:
    """Count rows, tokens, labels and tags of each split of NAME|PATH."""
    from nlp_rnn.data.corpus_info import corpus_info, format_corpus_info

    info = corpus_info(
        source,
        split,
        data_dir,
        format=format_,
        encoding=encoding,
        skip_invalid=skip_invalid,
        cache_dir=cache_dir,
        **parse_options(options),
    )
    click.echo(json.dumps(info, indent=2) if as_json else format_corpus_info(info))


def parse_options(options: tuple[str, ...]) -> dict[str, object]:
    """Turn ``KEY=VALUE`` strings into a dict; ``true``/``false`` become booleans."""
    parsed: dict[str, object] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise ConfigError(f"expected KEY=VALUE, found {option!r}")
        lowered = value.lower()
        parsed[key] = lowered == "true" if lowered in ("true", "false") else value
    return parsed
