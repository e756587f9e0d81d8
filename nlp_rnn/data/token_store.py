"""Encoded documents on disk, read back memory-mapped, so that memory stays flat as a corpus grows.

A store is three files in a folder, named after it (``train``, ``dev``)::

    <name>.ids          raw ids (uint16 when the vocabulary allows, else int32): <eos> d1 <eos> d2 <eos> ...
    <name>.offsets.npy  int64, documents + 1: where each document's ids begin (its <eos> ends it)
    <name>.labels.npy   int16, one label index per document (labelled stores only)
    <name>.json         dtype, documents, tokens, characters, whether there are labels

The ids file is at once the continuous stream of a language model (each ``<eos>`` ends a document
and starts the next, so every document token and every ``<eos>`` is a target) and, through the
offsets, the list of documents. ``characters`` counts each document's characters plus one for its
``<eos>`` (the newline it stands for), the denominator of bits per character.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.fileio import atomic_file, chunked
from nlp_rnn.text.codec import EOS_ID, TextCodec

CHUNK = 1000  # documents encoded at a time


@dataclass(frozen=True)
class Documents:
    """A store opened for reading: ``ids`` is a read-only memory map."""

    ids: np.ndarray  # tokens + documents + 1
    offsets: np.ndarray  # documents + 1
    labels: np.ndarray | None  # documents, label indices
    characters: int

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def targets(self) -> int:
        """Ids that a model predicts: every document token and every ``<eos>``."""
        return len(self.ids) - 1

    def document(self, index: int) -> np.ndarray:
        """Document ``index``'s ids followed by its ``<eos>``."""
        return self.ids[self.offsets[index] : self.offsets[index + 1]]

    def lengths(self) -> np.ndarray:
        """Ids per document, its ``<eos>`` included."""
        return np.diff(self.offsets)

    @classmethod
    def open(cls, folder: Path, name: str) -> Documents:
        info_path = folder / f"{name}.json"
        if not info_path.is_file():
            raise NlpRnnError(f"{folder}: no token store {name!r}")
        info = json.loads(info_path.read_text(encoding="utf-8"))
        ids = np.memmap(folder / f"{name}.ids", dtype=info["dtype"], mode="r")
        offsets = np.load(folder / f"{name}.offsets.npy")
        labels = np.load(folder / f"{name}.labels.npy").astype(np.int64) if info["labelled"] else None
        return cls(ids, offsets, labels, int(info["characters"]))


def write_documents(
    folder: Path,
    name: str,
    codec: TextCodec,
    records: Iterable[tuple[str, int | None]],
    labelled: bool = False,
) -> Documents:
    """Encode ``(text, label index or None)`` records (one document each; blank texts are
    skipped) into the store ``name`` in ``folder``, a chunk at a time, and open it."""
    folder.mkdir(parents=True, exist_ok=True)
    dtype = np.uint16 if codec.vocab_size <= np.iinfo(np.uint16).max + 1 else np.int32
    offsets = array("q", [1])
    labels = array("h")
    characters = 0
    with atomic_file(folder / f"{name}.ids", "wb") as handle:
        handle.write(np.array([EOS_ID], dtype=dtype).tobytes())
        for chunk in chunked((record for record in records if record[0].strip()), CHUNK):
            texts = [text for text, _ in chunk]
            for text, ids in zip(texts, codec.encode(texts), strict=True):
                handle.write(np.append(ids, EOS_ID).astype(dtype).tobytes())
                offsets.append(offsets[-1] + len(ids) + 1)
                characters += len(text) + 1
            if labelled:
                labels.extend(_label(label) for _, label in chunk)
    np.save(folder / f"{name}.offsets.npy", np.frombuffer(offsets, dtype=np.int64))
    if labelled:
        np.save(folder / f"{name}.labels.npy", np.frombuffer(labels, dtype=np.int16))
    info = {
        "dtype": np.dtype(dtype).name,
        "documents": len(offsets) - 1,
        "tokens": offsets[-1] - len(offsets),
        "characters": characters,
        "labelled": labelled,
    }
    with atomic_file(folder / f"{name}.json", "w", encoding="utf-8") as handle:
        json.dump(info, handle)
    return Documents.open(folder, name)


def _label(label: int | None) -> int:
    if label is None:
        raise NlpRnnError("a labelled store needs a label for every document")
    return label
