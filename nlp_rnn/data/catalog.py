"""Named corpora and the one entry point :func:`load_corpus`.

``source`` is one of three things:

- a catalog name (``sst2``, ``ud_english_ewt``, ...; see :data:`CATALOG`), read from the shared
  corpora folder (``data_dir``, else :func:`default_data_dir`);
- a local file or directory, read with ``format`` or a format inferred from the extension
  (``.conllu``, ``.jsonl``, ``.tsv``, each optionally ``.gz``) or the contents
  (``<doc`` -> WikiExtractor), else plain text lines;
- ``hf:owner/name`` or ``hf:name:config``: a Hugging Face Hub dataset (or a local directory of
  parquet/json files) loaded with ``datasets.load_dataset``; split ``dev`` means ``validation``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlp_rnn.data import readers
from nlp_rnn.errors import ConfigError, InputError

if TYPE_CHECKING:
    import datasets

DATA_ENV = "NLP_RNN_DATA"
FORMATS = (
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
HUB_PREFIX = "hf:"

# Options each format's reader accepts through load_corpus(**options).
_FORMAT_OPTIONS: dict[str, tuple[str, ...]] = {
    "tsv": ("columns",),
    "jsonl": ("text_field", "strip_html"),
    "lines": ("strip_html",),
}


def default_data_dir() -> Path:
    """Where the shared corpora live: ``$NLP_RNN_DATA``, else ``../shared/corpora`` relative to
    the working directory, else relative to the repository root (the package's parent)."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    from_cwd = Path.cwd().parent / "shared" / "corpora"
    if from_cwd.is_dir():
        return from_cwd
    repo_root = Path(__file__).resolve().parents[2]
    return repo_root.parent / "shared" / "corpora"


@dataclass(frozen=True)
class SplitFiles:
    """How to read one split: a format and file paths relative to the data folder.

    Paths may hold ``{param}`` placeholders (``train.{src_lang}.gz``) and glob patterns.
    For ``label_files`` the ``labels`` give each file's label; for ``parallel`` the two files
    are source and target.
    """

    format: str
    files: tuple[str, ...]
    labels: tuple[str, ...] = ()
    encoding: str = "utf-8"
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CorpusEntry:
    """A named corpus: its splits and the parameters its file names take."""

    name: str
    description: str
    splits: Mapping[str, SplitFiles]
    params: Mapping[str, str] = field(default_factory=dict)
    param_choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    hub: str = ""


_MULTI30K_LANGS = ("cs", "de", "en", "fr")
_SC = "sentence_classification/"

CATALOG: dict[str, CorpusEntry] = {
    entry.name: entry
    for entry in (
        CorpusEntry(
            "sst2",
            "SST-2 sentences, binary sentiment (LABEL text)",
            {
                "train": SplitFiles("label_text", ("sst2/stsa.binary.train",)),
                "dev": SplitFiles("label_text", ("sst2/stsa.binary.dev",)),
            },
            hub="hf:stanfordnlp/sst2",
        ),
        CorpusEntry(
            "sst2_phrases",
            "SST-2 with all labelled phrases of the training sentences (GLUE train)",
            {
                "train": SplitFiles("tsv", ("sst2/glue_train_phrases.tsv.gz",)),
                "dev": SplitFiles("label_text", ("sst2/stsa.binary.dev",)),
            },
            hub="hf:stanfordnlp/sst2",
        ),
        CorpusEntry(
            "imdb",
            "IMDB movie reviews, binary sentiment (JSON lines)",
            {"train": SplitFiles("jsonl", ("imdb/train.jsonl.gz",))},
            hub="hf:stanfordnlp/imdb",
        ),
        CorpusEntry(
            "imdb_unsup",
            "IMDB unlabelled reviews, one per line",
            {"train": SplitFiles("lines", ("imdb/unsup.txt.gz",), options={"strip_html": True})},
            hub="hf:stanfordnlp/imdb",
        ),
        CorpusEntry(
            "mr",
            "Movie review snippets, pos/neg (Pang & Lee 2005), Latin-1",
            {
                "train": SplitFiles(
                    "label_files",
                    (_SC + "rt-polarity.pos", _SC + "rt-polarity.neg"),
                    labels=("pos", "neg"),
                    encoding="latin-1",
                )
            },
        ),
        CorpusEntry(
            "cr",
            "Customer reviews, pos/neg (Hu & Liu 2004)",
            {
                "train": SplitFiles(
                    "label_files", (_SC + "custrev.pos", _SC + "custrev.neg"), labels=("pos", "neg")
                )
            },
        ),
        CorpusEntry(
            "subj",
            "Subjectivity: objective/subjective sentences (Pang & Lee 2004), Latin-1",
            {
                "train": SplitFiles(
                    "label_files",
                    (_SC + "subj.objective", _SC + "subj.subjective"),
                    labels=("objective", "subjective"),
                    encoding="latin-1",
                )
            },
        ),
        CorpusEntry(
            "trec",
            "TREC question classification, 6 coarse / 50 fine labels; test is held out",
            {
                "train": SplitFiles("trec", (_SC + "TREC.train",), encoding="latin-1"),
                "test": SplitFiles("trec", (_SC + "TREC.test",), encoding="latin-1"),
            },
        ),
        CorpusEntry(
            "ud_english_ewt",
            "Universal Dependencies English EWT, POS tagging (CoNLL-U)",
            {
                "train": SplitFiles("conllu", ("ud_english_ewt/en_ewt-ud-train.conllu",)),
                "dev": SplitFiles("conllu", ("ud_english_ewt/en_ewt-ud-dev.conllu",)),
            },
            hub="hf:universal_dependencies:en_ewt",
        ),
        CorpusEntry(
            "multi30k",
            "Multi30k image descriptions, translation between cs, de, en, fr",
            {
                "train": SplitFiles(
                    "parallel", ("multi30k/train.{src_lang}.gz", "multi30k/train.{tgt_lang}.gz")
                ),
                "dev": SplitFiles("parallel", ("multi30k/val.{src_lang}.gz", "multi30k/val.{tgt_lang}.gz")),
            },
            params={"src_lang": "de", "tgt_lang": "en"},
            param_choices={"src_lang": _MULTI30K_LANGS, "tgt_lang": _MULTI30K_LANGS},
            hub="hf:bentrevett/multi30k",
        ),
        CorpusEntry(
            "gigaword",
            "Gigaword headline generation (article -> title), first 10,000 training pairs",
            {
                "train": SplitFiles(
                    "parallel", ("gigaword/train.article.txt.gz", "gigaword/train.title.txt.gz")
                ),
                "dev": SplitFiles(
                    "parallel",
                    ("gigaword/valid.article.filter.txt.gz", "gigaword/valid.title.filter.txt.gz"),
                ),
            },
            hub="hf:Harvard/gigaword",
        ),
        CorpusEntry(
            "wikipedia_en",
            "English Wikipedia 2014 (WikiExtractor), paragraphs for word2vec",
            {"train": SplitFiles("wikiextractor", ("wikipedia_en/enwiki-*.txt.gz",))},
            hub="hf:wikimedia/wikipedia:20231101.en",
        ),
    )
}


def list_corpora() -> list[str]:
    """The catalog names, sorted."""
    return sorted(CATALOG)


def load_corpus(
    source: str,
    split: str = "train",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    format: str | None = None,
    encoding: str | None = None,
    skip_invalid: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    **options: Any,
) -> datasets.Dataset:
    """Load a corpus split as a ``datasets.Dataset`` (see the module docstring for ``source``).

    ``options`` are catalog parameters (``src_lang``/``tgt_lang`` for ``multi30k``), reader
    options (``strip_html``, ``text_field``, ``target`` for a parallel file's target side) and
    ``columns``, a mapping that renames columns (``{"sentence": "text"}``). Unknown names raise
    :class:`ConfigError`. Statistics about skipped records: :func:`nlp_rnn.data.readers.read_stats`.
    """
    if format is not None and format not in FORMATS:
        raise ConfigError(f"unknown format {format!r}; known formats: {', '.join(FORMATS)}")
    common = {"skip_invalid": skip_invalid, "cache_dir": cache_dir, "split": split}
    if source.startswith(HUB_PREFIX):
        if format is not None or encoding is not None or skip_invalid:
            raise ConfigError("format, encoding and skip_invalid do not apply to Hub datasets")
        return load_hub(source, split, cache_dir=cache_dir, **options)
    if source in CATALOG:
        if format is not None:
            raise ConfigError(f"format does not apply to the catalog corpus {source!r}")
        return _load_catalog(CATALOG[source], split, data_dir, encoding, options, common)
    path = Path(source)
    if not path.exists():
        raise InputError(
            f"no such file or directory, and not a catalog corpus (known: {', '.join(list_corpora())})"
            ", nor a Hub dataset (write hf:owner/name)",
            source,
        )
    return _load_path(path, format, encoding, options, common)


def corpus_splits(source: str) -> list[str]:
    """The splits of a catalog corpus (``["train"]`` for anything else)."""
    entry = CATALOG.get(source)
    return list(entry.splits) if entry else ["train"]


def catalog_files(
    name: str, split: str, data_dir: str | os.PathLike[str] | None = None, **params: str
) -> list[Path]:
    """The files a catalog corpus split is read from (``params`` fill ``{src_lang}``-style slots)."""
    entry = CATALOG[name]
    if split not in entry.splits:
        raise ConfigError(f"{entry.name} has no split {split!r}; its splits: {', '.join(entry.splits)}")
    unknown = sorted(set(params) - set(entry.params))
    if unknown:
        raise ConfigError(f"{entry.name} takes no parameter {', '.join(unknown)}")
    values = {**entry.params, **{key: str(value) for key, value in params.items()}}
    for param, choices in entry.param_choices.items():
        if values[param] not in choices:
            raise ConfigError(
                f"{entry.name}: {param} must be one of {', '.join(choices)}, not {values[param]!r}"
            )
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    if not root.is_dir():
        raise InputError(f"corpus folder not found; set {DATA_ENV} or pass --data-dir / data_dir", root)
    return [path for pattern in entry.splits[split].files for path in _expand(root, pattern.format(**values))]


def _load_catalog(
    entry: CorpusEntry,
    split: str,
    data_dir: str | os.PathLike[str] | None,
    encoding: str | None,
    options: dict[str, Any],
    common: dict[str, Any],
) -> datasets.Dataset:
    options = dict(options)
    params = {name: str(options.pop(name)) for name in list(options) if name in entry.params}
    files = catalog_files(entry.name, split, data_dir, **params)
    spec = entry.splits[split]
    reader_options = {**spec.options, **options}
    return _read(spec.format, files, list(spec.labels), encoding or spec.encoding, reader_options, common)


def _expand(root: Path, pattern: str) -> list[Path]:
    """Resolve a catalog file pattern; a pattern that matches nothing is a missing file."""
    if not any(char in pattern for char in "*?["):
        return [root / pattern]
    matches = sorted(root.glob(pattern))
    if not matches:
        raise InputError("no files match this pattern", root / pattern)
    return matches


def _load_path(
    path: Path,
    format: str | None,
    encoding: str | None,
    options: dict[str, Any],
    common: dict[str, Any],
) -> datasets.Dataset:
    files = _directory_files(path) if path.is_dir() else [path]
    if format is None:
        formats = {file: infer_format(file, encoding or "utf-8") for file in files}
        found = sorted(set(formats.values()))
        if len(found) > 1:
            listing = ", ".join(f"{file.name}: {fmt}" for file, fmt in formats.items())
            raise ConfigError(f"{path} mixes formats ({listing}); pass format (--format)")
        format = found[0]
    labels = []
    if format == "label_files":
        labels = [readers._label_from_name(file) for file in files]
    if format == "parallel":
        if "target" not in options:
            raise ConfigError("the parallel format needs the target file: pass target=PATH")
        options = dict(options)
        files = files + [Path(options.pop("target"))]
        if len(files) != 2:
            raise ConfigError("the parallel format reads one source file and one target file")
    return _read(format, files, labels, encoding or _default_encoding(format), options, common)


def _directory_files(path: Path) -> list[Path]:
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise InputError("the directory has no files", path)
    return files


def _default_encoding(format: str) -> str:
    return "latin-1" if format == "trec" else "utf-8"


def infer_format(path: str | os.PathLike[str], encoding: str = "utf-8") -> str:
    """Guess a file's format from its extension, else from its first line."""
    name = Path(path).name.removesuffix(".gz")
    by_extension = {".conllu": "conllu", ".jsonl": "jsonl", ".tsv": "tsv"}
    suffix = Path(name).suffix
    if suffix in by_extension:
        return by_extension[suffix]
    from nlp_rnn.fileio import iter_lines

    for _, line in iter_lines(path, encoding):
        if line.strip():
            return "wikiextractor" if line.startswith("<doc ") else "lines"
    return "lines"


def _read(
    format: str,
    files: list[Path],
    labels: list[str],
    encoding: str,
    options: dict[str, Any],
    common: dict[str, Any],
) -> datasets.Dataset:
    """Call the reader of ``format`` and apply the ``columns`` renaming."""
    options = dict(options)
    columns = options.pop("columns", None)
    allowed = _FORMAT_OPTIONS.get(format, ())
    unknown = sorted(name for name in options if name not in allowed)
    if unknown:
        accepted = ", ".join(("columns",) + allowed)
        raise ConfigError(f"unknown option(s) {', '.join(unknown)} for format {format}; accepted: {accepted}")
    if format == "tsv" and columns is not None:
        options["columns"] = columns
        columns = None
    reader = _READERS[format]
    dataset = reader(files, labels, encoding=encoding, **options, **common)
    return rename_columns(dataset, columns) if columns else dataset


def rename_columns(dataset: datasets.Dataset, columns: Mapping[str, str]) -> datasets.Dataset:
    """Rename columns (``{"sentence": "text"}``); a missing column is a :class:`ConfigError`."""
    missing = [name for name in columns if name not in dataset.column_names]
    if missing:
        present = ", ".join(dataset.column_names)
        raise ConfigError(f"cannot rename missing column(s) {', '.join(missing)}; columns: {present}")
    return dataset.rename_columns(dict(columns))


def _read_parallel(files, labels, **kwargs):
    return readers.read_parallel(files[0], files[1], **kwargs)


def _read_label_files(files, labels, **kwargs):
    return readers.read_label_files(dict(zip(labels, files, strict=True)), **kwargs)


def _plain(reader: Callable) -> Callable:
    return lambda files, labels, **kwargs: reader(files, **kwargs)


_READERS: dict[str, Callable[..., datasets.Dataset]] = {
    "conllu": _plain(readers.read_conllu),
    "label_text": _plain(readers.read_label_text),
    "label_files": _read_label_files,
    "trec": _plain(readers.read_trec),
    "tsv": _plain(readers.read_tsv),
    "jsonl": _plain(readers.read_jsonl),
    "lines": _plain(readers.read_text_lines),
    "parallel": _read_parallel,
    "wikiextractor": _plain(readers.read_wikiextractor),
}


# --------------------------------------------------------------------------- Hugging Face Hub


def parse_hub_source(source: str) -> tuple[str, str | None]:
    """Split ``hf:owner/name`` / ``hf:name:config`` into ``(name, config)``."""
    body = source.removeprefix(HUB_PREFIX)
    name, _, config = body.partition(":")
    if not name:
        raise ConfigError(f"expected hf:owner/name or hf:name:config, found {source!r}")
    return name, config or None


def load_hub(
    source: str,
    split: str = "train",
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    columns: Mapping[str, str] | None = None,
    revision: str | None = None,
    **unknown: Any,
) -> datasets.Dataset:
    """Load ``hf:owner/name[:config]`` with ``datasets.load_dataset``.

    ``dev`` is read as the Hub's ``validation`` split (or ``dev`` where a dataset has no
    ``validation``). ``revision`` picks a branch or commit: datasets that still ship a loading
    script can be read from their ``refs/convert/parquet`` branch. ``columns`` renames columns;
    an integer or ``ClassLabel`` ``label`` column becomes strings (class names where known),
    like the local readers' labels.
    """
    import datasets

    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(sorted(unknown))} for a Hub dataset; accepted: columns, revision"
        )
    name, config = parse_hub_source(source)
    kwargs: dict[str, Any] = {"cache_dir": None if cache_dir is None else str(cache_dir)}
    if revision is not None:
        kwargs["revision"] = revision
    try:
        dataset = datasets.load_dataset(
            name, config, split="validation" if split == "dev" else split, **kwargs
        )
    except ValueError as exc:
        # a few Hub datasets do call their validation split "dev"
        if split != "dev" or "Unknown split" not in str(exc):
            raise
        dataset = datasets.load_dataset(name, config, split="dev", **kwargs)
    if columns:
        dataset = rename_columns(dataset, columns)
    return _labels_as_strings(dataset)


def _labels_as_strings(dataset: datasets.Dataset) -> datasets.Dataset:
    from datasets import ClassLabel, Value

    feature = dataset.features.get("label")
    if isinstance(feature, ClassLabel):
        names = feature.names
        features = dataset.features.copy()
        features["label"] = Value("string")
        return dataset.map(
            lambda batch: {"label": [names[i] if i is not None and i >= 0 else None for i in batch["label"]]},
            batched=True,
            features=features,
        )
    if isinstance(feature, Value) and feature.dtype.startswith(("int", "uint", "bool")):
        return dataset.cast_column("label", Value("string"))
    return dataset
