"""``nlp-rnn tokenize`` and ``nlp-rnn vocab``: tokenize text files, build vocabularies.

Thin commands over :mod:`nlp_rnn.text`; the tokenizer modules (spaCy, sentencepiece) are
imported inside the commands so that ``nlp-rnn --help`` stays fast.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

import click

from nlp_rnn.errors import NlpRnnError

if TYPE_CHECKING:
    from nlp_rnn.text.tokenizers import Tokenizer

TOKENIZER_HELP = (
    "A tokenizer kind (whitespace, regex, char, spacy) or the directory of a saved tokenizer "
    "(any kind, sentencepiece included)."
)


@click.command(name="tokenize")
@click.option(
    "--tokenizer",
    "tokenizer_spec",
    default="regex",
    show_default=True,
    metavar="KIND|DIR",
    help=TOKENIZER_HELP,
)
@click.option("--lowercase", is_flag=True, help="Lowercase the text before tokenizing.")
@click.option("--lang", default=None, help="Language of the spacy tokenizer (default en).")
@click.option(
    "--input",
    "input_path",
    default="-",
    show_default=True,
    metavar="IN",
    help="Text file, one text per line (.gz read transparently); - for stdin.",
)
@click.option(
    "--output",
    "output_path",
    default="-",
    show_default=True,
    metavar="OUT",
    help="Output file (UTF-8, written atomically); - for stdout.",
)
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of the input.")
@click.option("--skip-wiki-markup", is_flag=True, help="Drop WikiExtractor's <doc ...> and </doc> lines.")
def tokenize(
    tokenizer_spec: str,
    lowercase: bool,
    lang: str | None,
    input_path: str,
    output_path: str,
    encoding: str,
    skip_wiki_markup: bool,
) -> None:
    """Tokenize IN line by line: each output line holds the tokens of the input line, space-joined."""
    from nlp_rnn.fileio import atomic_file
    from nlp_rnn.text.corpus_ops import is_wiki_markup, iter_tokenized_lines

    tokenizer = _tokenizer(tokenizer_spec, lowercase, lang)
    texts = _input_lines(input_path, encoding)
    lines = iter_tokenized_lines(texts, tokenizer, skip_line=is_wiki_markup if skip_wiki_markup else None)
    if output_path == "-":
        out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
        try:
            _write_lines(out, lines)
        finally:
            out.detach()  # leave stdout open for click
    else:
        with atomic_file(output_path, "w", encoding="utf-8", newline="\n") as out:
            _write_lines(out, lines)


@click.group(name="vocab")
def vocab() -> None:
    """Build and inspect vocabularies."""


@vocab.command(name="build")
@click.option(
    "--input",
    "inputs",
    multiple=True,
    required=True,
    metavar="FILE",
    help="Training text, one text per line; repeat for several files.",
)
@click.option("--output", required=True, metavar="VOCAB_JSON", help="Where to write the vocabulary.")
@click.option(
    "--tokenizer",
    "tokenizer_spec",
    default="regex",
    show_default=True,
    metavar="KIND|DIR",
    help=TOKENIZER_HELP,
)
@click.option("--lowercase", is_flag=True, help="Lowercase the text before tokenizing.")
@click.option("--lang", default=None, help="Language of the spacy tokenizer (default en).")
@click.option(
    "--min-freq",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Keep tokens seen at least this often.",
)
@click.option(
    "--max-size",
    default=None,
    type=click.IntRange(min=1),
    help="At most this many entries, special tokens included.",
)
@click.option("--no-markers", is_flag=True, help="Leave out <bos> and <eos> (keep <pad>, <unk>).")
@click.option(
    "--dev",
    "dev_paths",
    multiple=True,
    metavar="FILE",
    help="Held-out text to report the out-of-vocabulary rate on; repeatable.",
)
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of the inputs.")
@click.option("--skip-wiki-markup", is_flag=True, help="Drop WikiExtractor's <doc ...> and </doc> lines.")
@click.option(
    "--num-proc",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes for counting.",
)
def build_command(
    inputs: tuple[str, ...],
    output: str,
    tokenizer_spec: str,
    lowercase: bool,
    lang: str | None,
    min_freq: int,
    max_size: int | None,
    no_markers: bool,
    dev_paths: tuple[str, ...],
    encoding: str,
    skip_wiki_markup: bool,
    num_proc: int,
) -> None:
    """Count the tokens of the input files and save the vocabulary as JSON."""
    from nlp_rnn.text.corpus_ops import count_file_tokens, is_wiki_markup
    from nlp_rnn.text.vocab import NO_MARKERS, SPECIALS, Vocab

    tokenizer = _tokenizer(tokenizer_spec, lowercase, lang)
    skip_line = is_wiki_markup if skip_wiki_markup else None
    counts = count_file_tokens(inputs, tokenizer, encoding, num_proc=num_proc, skip_line=skip_line)
    specials = NO_MARKERS if no_markers else SPECIALS
    built = Vocab.build(counts, min_freq=min_freq, max_size=max_size, specials=specials)
    built.save(output)
    covered = built.coverage(counts)
    click.echo(
        f"vocabulary: {len(built)} entries ({len(specials)} special) -> {output}\n"
        f"train: {covered['tokens']} tokens, {covered['types']} types; "
        f"{_oov_line(covered)}"
    )
    if dev_paths:
        dev_counts = count_file_tokens(dev_paths, tokenizer, encoding, num_proc=num_proc, skip_line=skip_line)
        dev = built.coverage(dev_counts)
        click.echo(f"dev: {dev['tokens']} tokens, {dev['types']} types; {_oov_line(dev)}")


def _tokenizer(spec: str, lowercase: bool, lang: str | None) -> Tokenizer:
    from nlp_rnn.text.tokenizers import resolve_tokenizer

    if lang is not None and spec != "spacy":
        raise NlpRnnError("--lang applies to --tokenizer spacy only")
    options = {} if lang is None else {"lang": lang}
    return resolve_tokenizer(spec, lowercase=True if lowercase else None, **options)


def _oov_line(report: dict) -> str:
    return (
        f"OOV tokens {report['token_oov_rate']:.2%} ({report['oov_tokens']}), "
        f"OOV types {report['type_oov_rate']:.2%} ({report['oov_types']})"
    )


def _input_lines(input_path: str, encoding: str) -> Iterator[str]:
    """Lines of a file, or of stdin for ``-``, without line ends; decode errors name the line."""
    from nlp_rnn.text.corpus_ops import iter_file_texts, iter_stream_texts

    if input_path == "-":
        return iter_stream_texts(sys.stdin.buffer, encoding, "<stdin>")
    return iter_file_texts([input_path], encoding)


def _write_lines(out: IO[str], lines: Iterator[str], chunk: int = 1000) -> None:
    buffer: list[str] = []
    for line in lines:
        buffer.append(line)
        if len(buffer) >= chunk:
            out.write("\n".join(buffer) + "\n")
            buffer.clear()
    if buffer:
        out.write("\n".join(buffer) + "\n")
    out.flush()
