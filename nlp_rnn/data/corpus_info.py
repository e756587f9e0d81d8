"""Corpus statistics: rows, tokens, label counts and tag set sizes per split.

Counting streams over the Arrow columns chunk by chunk, so a corpus larger than memory is fine.
Tokens are whitespace tokens (``str.split()``), CoNLL-U words for tagged corpora, and
source/target tokens for parallel corpora.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from nlp_rnn.data.catalog import CATALOG, corpus_splits, load_corpus
from nlp_rnn.data.readers import read_stats

if TYPE_CHECKING:
    import datasets


def corpus_info(
    source: str,
    split: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    **opts: Any,
) -> dict[str, Any]:
    """Load each split of ``source`` (or only ``split``) and count what it holds.

    ``opts`` go to :func:`~nlp_rnn.data.catalog.load_corpus` (``format``, ``encoding``,
    ``skip_invalid``, ``cache_dir``, reader options). Returns
    ``{"source", "description", "splits": {name: stats}}`` where stats has ``rows``, ``skipped``
    and, depending on the columns, ``tokens``, ``src_tokens``/``tgt_tokens``, ``labels`` (label ->
    count), ``fine_labels`` (count of distinct fine labels), ``upos_tags``/``xpos_tags`` (tag set
    sizes) and ``documents``.
    """
    splits = [split] if split is not None else corpus_splits(source)
    entry = CATALOG.get(source)
    info: dict[str, Any] = {
        "source": source,
        "description": entry.description if entry else "",
        "splits": {},
    }
    for name in splits:
        dataset = load_corpus(source, name, data_dir=data_dir, **opts)
        info["splits"][name] = dataset_stats(dataset)
    return info


def dataset_stats(dataset: datasets.Dataset) -> dict[str, Any]:
    """Count rows, tokens, labels and tags of one dataset (see :func:`corpus_info`)."""
    columns = set(dataset.column_names)
    stats: dict[str, Any] = {"rows": dataset.num_rows}
    read = read_stats(dataset)
    stats["skipped"] = read.skipped if read else None
    if "tokens" in columns:
        stats["tokens"] = sum(len(tokens) for tokens in _values(dataset, "tokens"))
        for tag_column in ("upos", "xpos"):
            if tag_column in columns:
                tags = {tag for row in _values(dataset, tag_column) for tag in row}
                stats[f"{tag_column}_tags"] = len(tags)
    elif {"src", "tgt"} <= columns:
        stats["src_tokens"] = _whitespace_tokens(dataset, "src")
        stats["tgt_tokens"] = _whitespace_tokens(dataset, "tgt")
    elif "text" in columns:
        stats["tokens"] = _whitespace_tokens(dataset, "text")
    if "doc_id" in columns:
        stats["documents"] = len(set(_values(dataset, "doc_id")))
    if "label" in columns:
        counts = Counter(str(label) for label in _values(dataset, "label"))
        stats["labels"] = dict(sorted(counts.items()))
    if "fine_label" in columns:
        stats["fine_labels"] = len(set(_values(dataset, "fine_label")))
    return stats


def _values(dataset: datasets.Dataset, column: str) -> Iterator[Any]:
    """Yield a column's values one Arrow chunk at a time (memory-mapped, never all at once)."""
    for chunk in dataset.data.column(column).chunks:
        yield from chunk.to_pylist()


def _whitespace_tokens(dataset: datasets.Dataset, column: str) -> int:
    return sum(len(text.split()) for text in _values(dataset, column) if text)


_ORDER = ("rows", "documents", "tokens", "src_tokens", "tgt_tokens", "upos_tags", "xpos_tags")


def format_corpus_info(info: dict[str, Any]) -> str:
    """Render :func:`corpus_info`'s result as a readable table (one row per split)."""
    splits: dict[str, dict[str, Any]] = info["splits"]
    keys = [key for key in _ORDER if any(key in stats for stats in splits.values())]
    extra = [("fine_labels", "fine labels"), ("skipped", "skipped")]
    keys += [key for key, _ in extra if any(stats.get(key) for stats in splits.values())]
    header = ["split", *(key.replace("_", " ") for key in keys)]
    rows = [header]
    for name, stats in splits.items():
        rows.append([name, *(_number(stats.get(key)) for key in keys)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [f"{info['source']}" + (f": {info['description']}" if info.get("description") else "")]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    for name, stats in splits.items():
        if stats.get("labels"):
            labels = "  ".join(f"{label}={_number(count)}" for label, count in stats["labels"].items())
            lines.append(f"labels ({name}): {labels}")
    return "\n".join(lines)


def _number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else str(value)
