"""``nlp-rnn w2v``: evaluate, inspect, plot and convert word vectors.

Training runs as a pipeline stage (``nlp-rnn run pipelines/word2vec_wiki.yaml``); these commands
work on its result (``--vectors runs/word2vec_wiki/model``) or on any word2vec/GloVe file.
Heavy imports (gensim, matplotlib, datasets) happen inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nlp_rnn.errors import NlpRnnError

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

FORMAT_CHOICES = ("auto", "word2vec-text", "word2vec-binary", "glove")


def _vectors_options(command):
    """``--vectors PATH`` and ``--format``, shared by every command that reads vectors."""
    command = click.option(
        "--format",
        "vectors_format",
        type=click.Choice(FORMAT_CHOICES),
        default="auto",
        show_default=True,
        help="Format of a vectors file (detected from its contents by default).",
    )(command)
    return click.option(
        "--vectors",
        "-m",
        "vectors_path",
        required=True,
        type=click.Path(exists=True, path_type=Path),
        help="A word2vec run's model folder, or a word2vec text/binary or GloVe file.",
    )(command)


def _load(vectors_path: Path, vectors_format: str) -> KeyedVectors:
    from nlp_rnn.embeddings.vectors_io import load_any_vectors

    return load_any_vectors(vectors_path, vectors_format)


@click.group(name="w2v")
def w2v() -> None:
    """Word vectors: evaluate, nearest neighbours, analogies, 2-D plots, format conversion."""


@w2v.command(name="eval")
@_vectors_options
@click.option(
    "--restrict", default=30_000, show_default=True, help="Analogies: only the N most frequent words."
)
@click.option(
    "--coverage",
    "coverage_sets",
    multiple=True,
    metavar="NAME|SOURCE:SPLIT:COLUMN",
    help="Dev set whose vocabulary coverage to report (repeatable): sst2_dev, ewt_dev, multi30k_en_dev, "
    "gigaword_dev, all, or SOURCE:SPLIT:COLUMN. Default: none.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Corpus folder for --coverage (default: $NLP_RNN_DATA, else ../shared/corpora).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def eval_command(
    vectors_path: Path,
    vectors_format: str,
    restrict: int,
    coverage_sets: tuple[str, ...],
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Analogy accuracy (Google), WordSim353 and SimLex-999 Spearman, and dev-set coverage."""
    from nlp_rnn.embeddings.evaluate import (
        evaluate_analogies,
        evaluate_similarity,
        parse_coverage_sets,
        result_dict,
        set_coverage,
    )

    kv = _load(vectors_path, vectors_format)
    results: dict[str, Any] = {
        "vectors": str(vectors_path),
        "vocab_size": len(kv),
        "dim": kv.vector_size,
        "analogy": result_dict(evaluate_analogies(kv, restrict)),
        "ws353": result_dict(evaluate_similarity(kv, "ws353")),
        "simlex": result_dict(evaluate_similarity(kv, "simlex")),
        "coverage": {},
    }
    tokenizer = _tokenizer_for(vectors_path)
    for spec in parse_coverage_sets(coverage_sets):
        results["coverage"][spec.name] = result_dict(set_coverage(kv, spec, tokenizer, data_dir))
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    analogy, ws353, simlex = results["analogy"], results["ws353"], results["simlex"]
    click.echo(f"vectors: {vectors_path} ({results['vocab_size']:,} words x {results['dim']})")
    click.echo(
        f"analogies (top {restrict:,} words): {analogy['accuracy']:.1%} of {analogy['answered']:,} answered "
        f"(semantic {analogy['semantic_accuracy']:.1%}, syntactic {analogy['syntactic_accuracy']:.1%}; "
        f"{analogy['skipped']:,} skipped for unknown words)"
    )
    for name, result in (("WordSim353", ws353), ("SimLex-999", simlex)):
        click.echo(
            f"{name}: Spearman {result['spearman']:.3f} on {result['pairs']} pairs "
            f"({result['oov_pairs']} with an unknown word skipped)"
        )
    for name, result in results["coverage"].items():
        missing = ", ".join(word for word, _ in result["top_missing"][:8])
        click.echo(
            f"coverage {name}: {result['token_coverage']:.1%} of {result['tokens']:,} tokens, "
            f"{result['type_coverage']:.1%} of {result['types']:,} types; top missing: {missing}"
        )


def _tokenizer_for(vectors_path: Path):
    """The tokenizer the vectors were trained with (from a run's model folder), else lowercased regex."""
    from nlp_rnn.embeddings.vectors_io import MODEL_INFO_FILE, read_model_info
    from nlp_rnn.text.tokenizers import build_tokenizer

    if vectors_path.is_dir() and (vectors_path / MODEL_INFO_FILE).is_file():
        spec = read_model_info(vectors_path).get("tokenizer")
        if isinstance(spec, dict) and "kind" in spec:
            return build_tokenizer(spec["kind"], **spec.get("options", {}))
    return build_tokenizer("regex", lowercase=True)


@w2v.command(name="neighbors")
@click.argument("words", nargs=-1, required=True)
@_vectors_options
@click.option("--topn", "-n", default=10, show_default=True, help="How many neighbours.")
def neighbors_command(words: tuple[str, ...], vectors_path: Path, vectors_format: str, topn: int) -> None:
    """Nearest neighbours (cosine similarity) of each WORD."""
    kv = _load(vectors_path, vectors_format)
    for word in words:
        key = _key(kv, word)
        click.echo(f"{key}:")
        for neighbor, similarity in kv.most_similar(key, topn=topn):
            click.echo(f"  {similarity:6.3f}  {neighbor}")


@w2v.command(name="analogy")
@click.argument("a")
@click.argument("b")
@click.argument("c")
@_vectors_options
@click.option("--topn", "-n", default=5, show_default=True, help="How many candidates.")
@click.option("--restrict", default=None, type=int, help="Search only the N most frequent words.")
def analogy_command(
    a: str, b: str, c: str, vectors_path: Path, vectors_format: str, topn: int, restrict: int | None
) -> None:
    """A is to B as C is to ?  (3CosAdd: the words nearest to B - A + C)."""
    kv = _load(vectors_path, vectors_format)
    keys = [_key(kv, word) for word in (a, b, c)]
    click.echo(f"{keys[0]} : {keys[1]} :: {keys[2]} : ?")
    for word, similarity in kv.most_similar(
        positive=[keys[1], keys[2]], negative=[keys[0]], topn=topn, restrict_vocab=restrict
    ):
        click.echo(f"  {similarity:6.3f}  {word}")


@w2v.command(name="plot")
@click.argument("words", nargs=-1)
@_vectors_options
@click.option(
    "--words-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read more words from a file (whitespace-separated).",
)
@click.option("--method", type=click.Choice(["pca", "tsne"]), default="pca", show_default=True)
@click.option(
    "--neighbors", "-n", default=0, show_default=True, help="Also plot each word's N nearest words."
)
@click.option("--seed", default=0, show_default=True, help="Seed for t-SNE.")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="PNG file to write.",
)
def plot_command(
    words: tuple[str, ...],
    vectors_path: Path,
    vectors_format: str,
    words_file: Path | None,
    method: str,
    neighbors: int,
    seed: int,
    output: Path,
) -> None:
    """Save a 2-D projection (PCA or t-SNE) of the vectors of WORDS as a PNG."""
    from nlp_rnn.embeddings.plot import plot_words
    from nlp_rnn.fileio import iter_lines

    chosen = list(words)
    if words_file is not None:
        chosen += [word for _, line in iter_lines(words_file) for word in line.split()]
    if not chosen:
        raise NlpRnnError("name the words to plot (arguments or --words-file)")
    kv = _load(vectors_path, vectors_format)
    result = plot_words(kv, chosen, output, method=method, neighbors=neighbors, seed=seed)
    click.echo(f"wrote {result.path} ({len(result.words)} words, {method})")
    if result.missing:
        click.echo(f"no vector for: {', '.join(result.missing)}", err=True)


@w2v.command(name="convert")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--from",
    "source_format",
    type=click.Choice(FORMAT_CHOICES),
    default="auto",
    show_default=True,
    help="Format of SOURCE (a word2vec run's model folder is always read as such).",
)
@click.option(
    "--to",
    "target_format",
    type=click.Choice(FORMAT_CHOICES[1:]),
    default="word2vec-text",
    show_default=True,
    help="Format to write; a .gz TARGET is compressed.",
)
@click.option("--precision", default=9, show_default=True, help="Significant digits in text formats.")
@click.option("--limit", type=int, default=None, help="Keep only the first N vectors.")
def convert_command(
    source: Path, target: Path, source_format: str, target_format: str, precision: int, limit: int | None
) -> None:
    """Convert vectors between word2vec text, word2vec binary and GloVe formats."""
    from nlp_rnn.embeddings.vectors_io import load_model_vectors, load_vectors, save_vectors

    if source.is_dir():
        kv = load_model_vectors(source)
    else:
        kv = load_vectors(source, source_format, limit=limit)
    if limit is not None and len(kv) > limit:
        kv = _first(kv, limit)
    save_vectors(kv, target, target_format, precision=precision)
    click.echo(f"wrote {len(kv):,} vectors of dimension {kv.vector_size} to {target} ({target_format})")


def _first(kv: KeyedVectors, limit: int) -> KeyedVectors:
    from gensim.models import KeyedVectors

    head = KeyedVectors(vector_size=kv.vector_size, count=0)
    head.add_vectors(kv.index_to_key[:limit], kv.vectors[:limit])
    return head


def _key(kv: KeyedVectors, word: str) -> str:
    """The word as the vectors spell it (as given, else lowercased); an unknown word is an error."""
    for key in (word, word.lower()):
        if key in kv.key_to_index:
            return key
    raise NlpRnnError(f"{word!r} has no vector (vocabulary of {len(kv):,} words)")
