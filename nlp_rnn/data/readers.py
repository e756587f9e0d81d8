"""Corpus readers that stream files into Hugging Face ``datasets.Dataset`` objects.

Every ``read_*`` function parses its files line by line inside a generator handed to
``datasets.Dataset.from_generator``, which writes Arrow files batch by batch: memory does not
grow with the corpus, and the result is memory-mapped from the HF cache. The cache key is a
fingerprint of the reader's code, the files' paths, sizes and modification times, and the
options, so a second call with unchanged files loads the cached Arrow files without parsing.

Bad input raises :class:`~nlp_rnn.errors.InputError` (``path:line:column: problem``). With
``skip_invalid=True`` invalid records are skipped instead; a warning
``skipped N invalid records in FILE`` is logged, and :func:`read_stats` returns a
:class:`ReadStats` with the counts (kept in ``dataset.info.description`` and in a small JSON file
beside the cache, so cached loads report the same numbers).

Column schemas:

- ``conllu``: ``sent_id``, ``text``, ``tokens``, ``upos``, ``xpos``, ``conllu`` (raw block)
- ``label_text``, ``label_files``: ``text``, ``label``
- ``trec``: ``text``, ``label`` (coarse, ``DESC``), ``fine_label`` (``DESC:manner``)
- ``tsv``: the header's columns (``sentence`` renamed to ``text`` by default), all strings
- ``jsonl``: the objects' keys, with the text field as ``text`` and ``label`` as a string
- ``lines``: ``text``
- ``parallel``: ``src``, ``tgt``
- ``wikiextractor``: ``text`` (one paragraph), ``doc_id``, ``title``
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlp_rnn.data import conllu as conllu_format
from nlp_rnn.errors import ConfigError, InputError, NlpRnnError
from nlp_rnn.fileio import atomic_file, iter_lines

if TYPE_CHECKING:  # datasets is imported lazily: it takes seconds and the CLI must stay fast
    import datasets

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
Paths = PathLike | Sequence[PathLike]

MAX_REPORTED_PROBLEMS = 10
STATS_KEY = "nlp_rnn_read_stats"
_STATS_DIR_NAME = "nlp_rnn_read_stats"
_BR_TAGS = re.compile(r"(?:\s*<br\s*/?>\s*)+", re.IGNORECASE)
_TREC_LINE = re.compile(r"([A-Z]+):(\S+)(?:\s+(.*))?")
_LABEL_LINE = re.compile(r"(\S+)[ \t]+(.*)")
_DOC_OPEN = re.compile(r'<doc id="([^"]*)" url="([^"]*)" title="(.*)">')


@dataclass
class ReadStats:
    """What a read produced: ``records`` kept and invalid records skipped, per file.

    ``skipped`` is ``None`` when unknown (a cached dataset whose statistics file was removed).
    ``problems`` holds the messages of the first few skipped records.
    """

    records: int
    skipped: int | None = 0
    skipped_by_file: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_stats(dataset: datasets.Dataset) -> ReadStats | None:
    """Return the :class:`ReadStats` of a dataset built by these readers, else ``None``."""
    try:
        payload = json.loads(dataset.info.description or "")
    except json.JSONDecodeError:
        return None
    if not isinstance(payload, dict) or STATS_KEY not in payload:
        return None
    return ReadStats(**payload[STATS_KEY])


# --------------------------------------------------------------------------- public readers


def read_conllu(
    paths: Paths,
    *,
    encoding: str = "utf-8",
    skip_invalid: bool = False,
    cache_dir: PathLike | None = None,
    split: str = "train",
) -> datasets.Dataset:
    """Read CoNLL-U files: one row per sentence (``sent_id``, ``text``, ``tokens``, ``upos``,
    ``xpos``, ``conllu``). Write predictions back with :func:`nlp_rnn.data.conllu.write_conllu`."""
    from datasets import Features, Sequence, Value

    features = Features(
        {
            "sent_id": Value("string"),
            "text": Value("string"),
            "tokens": Sequence(Value("string")),
            "upos": Sequence(Value("string")),
            "xpos": Sequence(Value("string")),
            "conllu": Value("string"),
        }
    )
    sources = [_source(path) for path in _as_list(paths)]
    return _build("conllu", sources, features, {}, encoding, skip_invalid, cache_dir, split)


def read_label_text(
    paths: Paths,
    *,
    encoding: str = "utf-8",
    skip_invalid: bool = False,
    cache_dir: PathLike | None = None,
    split: str = "train",
) -> datasets.Dataset:
    """Read ``LABEL text`` lines (SST ``stsa.binary.*``): columns ``text``, ``label``.

    The label is everything before the first space or tab. Blank lines are ignored.
    """
    sources = [_source(path) for path in _as_list(paths)]
    features = _string_features("text", "label")
    return _build("label_text", sources, features, {}, encoding, skip_invalid, cache_dir, split)


def read_label_files(
    files: Mapping[str, PathLike] | Sequence[PathLike],
    *,
    encoding: str = "utf-8",
    skip_invalid: bool = False,
    cache_dir: PathLike | None = None,
    split: str = "train",
) -> datasets.Dataset:
    """Read one-file-per-label sets (MR ``rt-polarity.pos/neg``): columns ``text``, ``label``.

    ``files`` maps each label to its file; a plain list of files takes each label from the file
    extension (``rt-polarity.neg`` -> ``neg``). Every non-blank line is one text.
    """
    if isinstance(files, Mapping):
        labelled = list(files.items())
    else:
        labelled = [(_label_from_name(path), path) for path in _as_list(files)]
    labels = [label for label, _ in labelled]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"two files give the same label: {', '.join(sorted(labels))}")
    sources = [{**_source(path), "label": label} for label, path in labelled]
    features = _string_features("text", "label")
    return _build("label_files", sources, features, {}, encoding, skip_invalid, cache_dir, split)


def read_trec(
    paths: Paths,
    *,
    encoding: str = "latin-1",
    skip_invalid: bool = False,
    cache_dir: PathLike | None = None,
    split: str = "train",
) -> datasets.Dataset:
    """Read TREC question files (``LABEL:sub text``, Latin-1): columns ``text``, ``label``
    (coarse, ``DESC``) and ``fine_label`` (``DESC:manner``)."""
    sources = [_source(path) for path in _as_list(paths)]
    features = _string_features("text", "label", "fine_label")
    return _build("trec", sources, features, {}, encoding, skip_invalid, cache_dir, split)


def read_tsv(
    paths: Paths,
    *,
    columns: Mapping[str, str] | None = None,
    encoding: str = "utf-8",
    skip_invalid: bool = False,
    cache_dir: PathLike | None = None,
    split: str = "train",
) -> datasets.Dataset:
    """Read tab-separated files with a header line; every column is a string.

    ``columns`` renames header columns; the default renames GLUE's ``sentence`` to ``text``.
    Text in the ``text`` column is stripped of surrounding spaces and must not be empty.
    """
    sources = [_source(path) for path in _as_list(paths)]
    header = _read_header(sources[0]["path"], encoding)
    if columns is None:
        columns = {"sentence": "text"} if "sentence" in header and "text" not in header else {}
    unknown = [name for name in columns if name not in header]
    if unknown:
        raise ConfigError(
            f"columns to rename not in the header of {sources[0]['path']}: {', '.join(unknown)}"
            f" (header: {', '.join(header)})"
        )
    names = [columns.get(name, name) for name in header]
    options = {"header": header, "names": names}
    features = _string_features(*names)
    return _build("tsv", sources, features, options, encoding, skip_invalid, cache_dir, split)


def read_jsonl(
    paths: Paths,
    *,
    text_field: str = "text",
    strip_html: bool = True,
    encoding: str = "utf-8",
    skip_invalid: bool = False,
    cache_dir: PathLike | None = None,
    split: str = "train",
) -> datasets.Dataset:
    """Read JSON Lines (IMDB ``train.jsonl.gz``): one object per line, all with the same keys.

    ``text_field`` holds the text and becomes column ``text``; ``label`` (if any) becomes a
    string. ``strip_html`` replaces ``<br />`` tags (IMDB's line breaks) by a space.
    """
    sources = [_source(path) for path in _as_list(paths)]
    schema = _peek_jsonl_schema(sources, text_field, encoding)
    options = {"text_field": text_field, "strip_html": strip_html, "schema": schema}
    features = _jsonl_features(schema)
    return _build("jsonl", sources, features, options, encoding, skip_invalid, cache_dir, split)


def read_text_lines(
    paths: Paths,
    *,
    strip_html: bool = False,
    encoding: str = "utf-8",
    skip_invalid: bool = False,
    cache_dir: PathLike | None = None,
    split: str = "train",
) -> datasets.Dataset:
    """Read plain text, one record per non-blank line (IMDB ``unsup.txt.gz``): column ``text``."""
    sources = [_source(path) for path in _as_list(paths)]
    features, options = _string_features("text"), {"strip_html": strip_html}
    return _build("lines", sources, features, options, encoding, skip_invalid, cache_dir, split)


def read_parallel(
    src_paths: Paths,
    tgt_paths: Paths,
    *,
    encoding: str = "utf-8",
    skip_invalid: bool = False,
    cache_dir: PathLike | None = None,
    split: str = "train",
) -> datasets.Dataset:
    """Read line-aligned parallel files (Multi30k ``train.de.gz`` + ``train.en.gz``, Gigaword
    article + title): columns ``src``, ``tgt``.

    Files of different lengths are an error naming both files and their line counts, whatever
    ``skip_invalid`` says; a pair with an empty side is an invalid record.
    """
    src_list, tgt_list = _as_list(src_paths), _as_list(tgt_paths)
    if len(src_list) != len(tgt_list):
        raise ConfigError(f"{len(src_list)} source files but {len(tgt_list)} target files")
    sources = [{**_source(src), "tgt": _source(tgt)} for src, tgt in zip(src_list, tgt_list, strict=True)]
    features = _string_features("src", "tgt")
    return _build("parallel", sources, features, {}, encoding, skip_invalid, cache_dir, split)


def read_wikiextractor(
    paths: Paths,
    *,
    encoding: str = "utf-8",
    skip_invalid: bool = False,
    cache_dir: PathLike | None = None,
    split: str = "train",
) -> datasets.Dataset:
    """Read WikiExtractor dumps (``<doc id= url= title=>`` ... ``</doc>``), any number of shards.

    One row per non-empty paragraph line: ``text``, ``doc_id``, ``title``. The first line of
    each document repeats its title and is dropped. A broken document is an invalid record.
    """
    sources = [_source(path) for path in _as_list(paths)]
    features = _string_features("text", "doc_id", "title")
    return _build("wikiextractor", sources, features, {}, encoding, skip_invalid, cache_dir, split)


# --------------------------------------------------------------------------- building datasets


def _as_list(paths: Paths) -> list[PathLike]:
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    paths = list(paths)
    if not paths:
        raise ConfigError("no input files given")
    return paths


def _source(path: PathLike) -> dict:
    """Describe a file for the cache key: absolute path, size and modification time."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    if path.is_dir():
        raise InputError("expected a file, found a directory", path)
    info = path.stat()
    return {"path": str(path.resolve()), "size": info.st_size, "mtime_ns": info.st_mtime_ns}


def _label_from_name(path: PathLike) -> str:
    name = Path(path).name.removesuffix(".gz")
    label = Path(name).suffix.lstrip(".")
    if not label:
        raise ConfigError(f"cannot take a label from the file name {name!r}: it has no extension")
    return label


def _string_features(*names: str) -> datasets.Features:
    from datasets import Features, Value

    return Features({name: Value("string") for name in names})


@functools.cache
def _code_version() -> str:
    """Hash of the parsing code, so that a change to it invalidates cached datasets."""
    digest = hashlib.sha256()
    for module_file in (__file__, conllu_format.__file__):
        digest.update(Path(module_file).read_bytes())
    return digest.hexdigest()[:16]


def _fingerprint(kind: str, sources: list, options: dict, encoding: str, skip: bool, split: str):
    key = {
        "kind": kind,
        "code": _code_version(),
        "sources": sources,
        "options": options,
        "encoding": encoding,
        "skip_invalid": skip,
        "split": split,
    }
    text = json.dumps(key, sort_keys=True, default=str)
    return f"nlp_rnn_{kind}_{hashlib.sha256(text.encode()).hexdigest()[:24]}"


def _stats_file(cache_dir: PathLike | None, fingerprint: str) -> Path:
    import datasets

    root = Path(cache_dir) if cache_dir is not None else Path(datasets.config.HF_DATASETS_CACHE)
    return root / _STATS_DIR_NAME / f"{fingerprint}.json"


def _build(
    kind: str,
    sources: list[dict],
    features: datasets.Features,
    options: dict,
    encoding: str,
    skip_invalid: bool,
    cache_dir: PathLike | None,
    split: str,
) -> datasets.Dataset:
    """Run (or load from the HF cache) ``Dataset.from_generator`` over the sources."""
    import datasets

    fingerprint = _fingerprint(kind, sources, options, encoding, skip_invalid, split)
    with tempfile.TemporaryDirectory(prefix="nlp_rnn_stats_") as stats_dir:
        gen_kwargs = {
            # a list is what datasets shards over (num_proc); everything else is passed whole
            "sources": sources,
            "kind": kind,
            "options": options,
            "encoding": encoding,
            "skip_invalid": skip_invalid,
            "stats_dir": stats_dir,  # not part of the fingerprint: it only carries counts back
        }
        try:
            dataset = datasets.Dataset.from_generator(
                _generate,
                features=features,
                cache_dir=None if cache_dir is None else str(cache_dir),
                gen_kwargs=gen_kwargs,
                split=split,
                fingerprint=fingerprint,
            )
        except datasets.exceptions.DatasetGenerationError as exc:
            error = _user_error(exc)
            if error is exc:
                raise
            raise error from None
        except ValueError as exc:
            # datasets refuses to load a split with no rows (every record skipped)
            if "corresponds to no data" not in str(exc):
                raise
            columns = {name: [] for name in features or {"text": None}}
            dataset = datasets.Dataset.from_dict(columns, features=features, split=split)
        stats = _collect_stats(Path(stats_dir), len(dataset))
    stats_file = _stats_file(cache_dir, fingerprint)
    if stats is None:
        stats = _load_stats(stats_file, len(dataset))
    else:
        with atomic_file(stats_file, "w", encoding="utf-8") as handle:
            json.dump(asdict(stats), handle)
    for path, count in stats.skipped_by_file.items():
        logger.warning("skipped %d invalid records in %s", count, path)
    dataset.info.description = json.dumps({STATS_KEY: asdict(stats)})
    return dataset


def _user_error(exc: BaseException) -> BaseException:
    """Find the user-facing error that datasets wrapped in DatasetGenerationError."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, NlpRnnError):
            return cause
        cause = cause.__cause__ or cause.__context__
    return exc


def _collect_stats(stats_dir: Path, rows: int) -> ReadStats | None:
    parts = [json.loads(path.read_text()) for path in sorted(stats_dir.glob("*.json"))]
    if not parts:
        return None  # the generator did not run: the dataset came from the cache
    skipped = {part["path"]: part["skipped"] for part in parts if part["skipped"]}
    problems = [message for part in parts for message in part["problems"]]
    return ReadStats(rows, sum(skipped.values()), skipped, problems[:MAX_REPORTED_PROBLEMS])


def _load_stats(stats_file: Path, rows: int) -> ReadStats:
    try:
        return ReadStats(**json.loads(stats_file.read_text()))
    except (OSError, ValueError, TypeError):
        return ReadStats(rows, skipped=None)


def _generate(
    sources: list[dict],
    kind: str,
    options: dict,
    encoding: str,
    skip_invalid: bool,
    stats_dir: str,
) -> Iterator[dict]:
    """The generator given to ``from_generator``: parse each source, record what was skipped."""
    parse = _PARSERS[kind]
    for source in sources:
        skips = _Skips(skip_invalid)
        records = 0
        for record in parse(source, options, encoding, skips.report):
            records += 1
            yield record
        if records == 0 and skips.count == 0:
            raise InputError("no records found: the file is empty or blank", source["path"])
        name = hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()[:16]
        stats = {"path": source["path"], "skipped": skips.count, "problems": skips.problems}
        Path(stats_dir, f"{name}.json").write_text(json.dumps(stats))


class _Skips:
    """The ``on_invalid`` callback of one file: raise, or count and remember the first few."""

    def __init__(self, skip_invalid: bool) -> None:
        self.skip_invalid = skip_invalid
        self.count = 0
        self.problems: list[str] = []

    def report(self, error: InputError) -> None:
        if not self.skip_invalid:
            raise error
        self.count += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(str(error))


# --------------------------------------------------------------------------- format parsers
# Each parser takes (source, options, encoding, on_invalid) and yields rows. It reports an
# invalid record by calling on_invalid(InputError(...)), which raises unless skipping.

OnInvalid = Callable[[InputError], None]


def _parse_conllu(source: dict, options: dict, encoding: str, on_invalid: OnInvalid):
    yield from conllu_format.iter_sentences(source["path"], encoding, on_invalid)


def _parse_label_text(source: dict, options: dict, encoding: str, on_invalid: OnInvalid):
    path = source["path"]
    for number, line in iter_lines(path, encoding):
        if not line.strip():
            continue
        match = _LABEL_LINE.fullmatch(line)
        if line[0] in " \t":
            on_invalid(InputError("expected LABEL text, found no label", path, number, 1))
        elif match is None or not match.group(2).strip():
            problem = f"label {line.split()[0]!r} has no text after it"
            on_invalid(InputError(problem, path, number, len(line.rstrip()) + 1))
        else:
            yield {"text": match.group(2).strip(), "label": match.group(1)}


def _parse_label_file(source: dict, options: dict, encoding: str, on_invalid: OnInvalid):
    for _, line in iter_lines(source["path"], encoding):
        text = line.strip()
        if text:  # blank lines separate nothing here; CR has a few
            yield {"text": text, "label": source["label"]}


def _parse_trec(source: dict, options: dict, encoding: str, on_invalid: OnInvalid):
    path = source["path"]
    for number, line in iter_lines(path, encoding):
        if not line.strip():
            continue
        match = _TREC_LINE.fullmatch(line)
        if match is None:
            on_invalid(InputError("expected LABEL:subtype text (DESC:manner How ...)", path, number, 1))
        elif not (match.group(3) or "").strip():
            on_invalid(InputError("question text is empty", path, number, len(line) + 1))
        else:
            coarse, fine, text = match.groups()
            yield {"text": text.strip(), "label": coarse, "fine_label": f"{coarse}:{fine}"}


def _parse_tsv(source: dict, options: dict, encoding: str, on_invalid: OnInvalid):
    path, header, names = source["path"], options["header"], options["names"]
    lines = iter_lines(path, encoding)
    for number, line in lines:
        if line.split("\t") != header:
            expected = "\t".join(header)
            raise InputError(f"header differs from the first file's ({expected!r})", path, number, 1)
        break
    for number, line in lines:
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            column = len(line) + 1 if len(fields) < len(header) else _field_start(fields, len(header))
            problem = f"expected {len(header)} tab-separated fields, found {len(fields)}"
            on_invalid(InputError(problem, path, number, column))
            continue
        row = dict(zip(names, fields, strict=True))
        if "text" in row:
            row["text"] = row["text"].strip()
            if not row["text"]:
                column = _field_start(fields, names.index("text"))
                on_invalid(InputError("text is empty", path, number, column))
                continue
        yield row


def _field_start(fields: list[str], index: int) -> int:
    """1-based column where field ``index`` of a tab-split line starts."""
    return sum(len(field) + 1 for field in fields[:index]) + 1


def _read_header(path: str, encoding: str) -> list[str]:
    for number, line in iter_lines(path, encoding):
        header = line.split("\t")
        if not line.strip() or any(not name.strip() for name in header):
            raise InputError("expected a header line of tab-separated column names", path, number, 1)
        if len(set(header)) != len(header):
            raise InputError("the header repeats a column name", path, number, 1)
        return header
    raise InputError("no records found: the file is empty", path)


_JSON_TYPES = {str: "string", bool: "bool", int: "int64", float: "float64"}


def _json_kind(value: Any) -> str | None:
    """The schema kind of a JSON value (``None`` for null, ``"other"`` for nested values)."""
    if value is None:
        return None
    return _JSON_TYPES.get(type(value), "other")


def _peek_jsonl_schema(sources: list[dict], text_field: str, encoding: str) -> dict[str, str]:
    """Take the column kinds from the first parseable record (errors are reported later)."""
    for source in sources:
        for _, line in iter_lines(source["path"], encoding):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get(text_field), str):
                schema = {key: _json_kind(value) or "string" for key, value in record.items()}
                if "label" in schema:
                    schema["label"] = "string"
                if text_field != "text" and "text" in schema:
                    raise ConfigError(f"{source['path']} has both {text_field!r} and 'text' fields")
                schema["text"] = schema.pop(text_field)
                return schema
    return {"text": "string"}


def _jsonl_features(schema: dict[str, str]) -> datasets.Features | None:
    from datasets import Features, Value

    if "other" in schema.values():
        return None  # nested values: let datasets infer the types
    return Features({name: Value(kind) for name, kind in schema.items()})


def _parse_jsonl(source: dict, options: dict, encoding: str, on_invalid: OnInvalid):
    path, text_field, schema = source["path"], options["text_field"], options["schema"]
    expected_keys = sorted(text_field if key == "text" else key for key in schema)
    for number, line in iter_lines(path, encoding):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            on_invalid(InputError(f"invalid JSON: {exc.msg}", path, number, exc.colno))
            continue
        problem = _jsonl_problem(record, text_field, expected_keys, schema)
        if problem:
            on_invalid(InputError(problem, path, number))
            continue
        text = record.pop(text_field)
        if options["strip_html"]:
            text = _BR_TAGS.sub(" ", text)
        record["text"] = text
        if record.get("label") is not None:
            record["label"] = str(record["label"])
        yield record


def _jsonl_problem(record: Any, text_field: str, expected_keys: list[str], schema: dict) -> str:
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}"
    if sorted(record) != expected_keys:
        return f"expected keys {expected_keys}, found {sorted(record)}"
    text = record[text_field]
    if not isinstance(text, str) or not text.strip():
        return f"field {text_field!r} must be a non-empty string"
    for key, value in record.items():
        kind = schema["text" if key == text_field else key]
        found = _json_kind(value)
        if key == "label" or kind == "other" or found is None or found == kind:
            continue
        if not (kind == "float64" and found == "int64"):
            return f"field {key!r}: expected {kind}, found {found}"
    return ""


def _parse_lines(source: dict, options: dict, encoding: str, on_invalid: OnInvalid):
    strip_html = options.get("strip_html", False)
    for _, line in iter_lines(source["path"], encoding):
        text = _BR_TAGS.sub(" ", line).strip() if strip_html else line.strip()
        if text:
            yield {"text": text}


def _parse_parallel(source: dict, options: dict, encoding: str, on_invalid: OnInvalid):
    src_path, tgt_path = source["path"], source["tgt"]["path"]
    pairs = zip_longest(iter_lines(src_path, encoding), iter_lines(tgt_path, encoding))
    count = 0
    for src, tgt in pairs:
        if src is None or tgt is None:
            longer = count + 1 + sum(1 for _ in pairs)
            src_lines, tgt_lines = (count, longer) if src is None else (longer, count)
            raise InputError(
                f"parallel files differ in length: {src_path} has {src_lines} lines, "
                f"{tgt_path} has {tgt_lines} lines"
            )
        count += 1
        (number, src_text), (_, tgt_text) = src, tgt
        if not src_text.strip():
            on_invalid(InputError("empty source sentence", src_path, number))
        elif not tgt_text.strip():
            on_invalid(InputError("empty target sentence", tgt_path, number))
        else:
            yield {"src": src_text.strip(), "tgt": tgt_text.strip()}


def _parse_wikiextractor(source: dict, options: dict, encoding: str, on_invalid: OnInvalid):
    path = source["path"]
    doc: dict | None = None  # the open document: id, title, start line, paragraphs
    for number, line in iter_lines(path, encoding):
        if line.startswith("<doc"):
            if doc is not None:
                on_invalid(InputError(f"<doc> opened at line {doc['line']} is not closed", path, number))
            match = _DOC_OPEN.fullmatch(line)
            if match is None:
                on_invalid(InputError('expected <doc id="..." url="..." title="...">', path, number, 1))
                doc = {"skip": True, "line": number}
                continue
            doc = {"id": match.group(1), "title": match.group(3), "line": number, "paras": []}
        elif line == "</doc>":
            if doc is None:
                on_invalid(InputError("</doc> without a matching <doc>", path, number, 1))
            elif not doc.get("skip"):
                # the first line repeats the title; documents are small, so they are buffered
                # until </doc> and a broken one can be skipped whole
                for text in doc["paras"][1:]:
                    yield {"text": text, "doc_id": doc["id"], "title": doc["title"]}
            doc = None
        elif doc is None:
            if line.strip():
                on_invalid(InputError("text outside <doc> ... </doc>", path, number, 1))
        elif not doc.get("skip"):
            text = line.strip()
            if text or not doc["paras"]:
                doc["paras"].append(text)
    if doc is not None:
        on_invalid(InputError(f"<doc> opened at line {doc['line']} is not closed", path))


_PARSERS = {
    "conllu": _parse_conllu,
    "label_text": _parse_label_text,
    "label_files": _parse_label_file,
    "trec": _parse_trec,
    "tsv": _parse_tsv,
    "jsonl": _parse_jsonl,
    "lines": _parse_lines,
    "parallel": _parse_parallel,
    "wikiextractor": _parse_wikiextractor,
}
