"""Read and write word vectors: word2vec text and binary, GloVe text, and gensim's own format.

The text and binary readers are our own rather than gensim's ``load_word2vec_format`` so that a
broken file (bad header, a line with the wrong number of values, bytes that are not UTF-8, a
truncated record) raises an :class:`~nlp_rnn.errors.InputError` naming the file and line.

gensim's native format (``KeyedVectors.save``) is a pickle, and unpickling runs arbitrary code.
:func:`load_vectors` therefore refuses it; only :func:`load_model_vectors` opens it, from a model
folder that our own pipeline wrote. Vectors that users bring go through the text/binary/GloVe
readers, which parse numbers and nothing else.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
from gensim.models import KeyedVectors

from nlp_rnn.errors import InputError
from nlp_rnn.fileio import atomic_file

log = logging.getLogger(__name__)

VectorFormat = Literal["word2vec-text", "word2vec-binary", "glove", "gensim"]
VECTOR_FORMATS: tuple[str, ...] = ("word2vec-text", "word2vec-binary", "glove", "gensim")

# The files a word2vec stage leaves in its model folder.
MODEL_TEXT_FILE = "word2vec.txt"  # word2vec text format: portable, readable by any tool
MODEL_GENSIM_FILE = "word2vec.kv"  # gensim's format (a pickle plus .npy arrays): fast to load
MODEL_INFO_FILE = "word2vec.json"  # settings and metrics; its presence marks a folder we wrote

_SNIFF_BYTES = 1 << 16
_PICKLE_MAGIC = b"\x80"  # every pickle protocol >= 2 starts with the PROTO opcode


# --------------------------------------------------------------------------- format detection


def detect_format(path: str | os.PathLike[str]) -> VectorFormat:
    """Guess a vectors file's format from its first bytes (never from its name).

    A first line of exactly two integers is a word2vec header; the record after it decides text
    versus binary. A first line ``WORD v1 v2 ...`` without a header is GloVe. A pickle is
    gensim's native format.
    """
    path = Path(path)
    with _open_binary(path) as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head:
        raise InputError("the vectors file is empty", path)
    if head.startswith(_PICKLE_MAGIC):
        return "gensim"
    end = head.find(b"\n")
    first = head if end < 0 else head[:end]
    try:
        tokens = first.decode("utf-8").split()
    except UnicodeDecodeError as exc:
        raise InputError(f"first line is not UTF-8 text ({exc.reason})", path, 1) from None
    if len(tokens) == 2 and all(_is_int(token) for token in tokens):
        dim = int(tokens[1])
        record = head[end + 1 :] if end >= 0 else b""
        return "word2vec-text" if _looks_like_text_record(record, dim) else "word2vec-binary"
    if len(tokens) >= 2 and all(_is_float(token) for token in tokens[1:]):
        return "glove"
    raise InputError(
        "not a vectors file: the first line is neither a word2vec header 'COUNT DIM' "
        "nor a GloVe line 'WORD v1 v2 ...'",
        path,
        1,
    )


def _looks_like_text_record(record: bytes, dim: int) -> bool:
    """True when the first record after a header is ``word v1 ... vD`` written as text.

    Only the bytes after the word are checked, so a text file whose first word is not UTF-8
    is still read as text (and its reader then names the bad line).
    """
    if not record:
        return True  # no records at all: the text reader reports the count mismatch
    end = record.find(b"\n")
    line = (record if end < 0 else record[:end]).lstrip()
    _, _, rest = line.partition(b" ")
    try:
        values = rest.decode("ascii").split()
    except UnicodeDecodeError:
        return False  # raw float32 bytes
    return len(values) >= dim > 0 and all(_is_float(token) for token in values[-dim:])


def _is_int(token: str) -> bool:
    return token.isdigit()


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- loading


def load_vectors(
    path: str | os.PathLike[str],
    format: VectorFormat | Literal["auto"] = "auto",
    *,
    limit: int | None = None,
) -> KeyedVectors:
    """Load word vectors from a word2vec text/binary or GloVe file (``.gz`` allowed).

    ``limit`` keeps only the first ``limit`` vectors (files are usually sorted by frequency).
    gensim's pickled format is refused here, because loading it would run code from the file;
    use :func:`load_model_vectors` on a model folder written by our own pipeline instead.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(
            "expected a vectors file, found a directory (a word2vec run's model folder is read by "
            "load_model_vectors / load_any_vectors)",
            path,
        )
    chosen = detect_format(path) if format == "auto" else format
    if chosen not in VECTOR_FORMATS:
        raise InputError(
            f"unknown vectors format {chosen!r}; expected one of {', '.join(VECTOR_FORMATS)}", path
        )
    if chosen == "gensim":
        raise InputError(
            "this is gensim's pickled KeyedVectors format, which is only loaded from a model folder "
            "written by an nlp-rnn word2vec run (unpickling a file can run arbitrary code); "
            "convert it to word2vec text or binary format where it was made",
            path,
        )
    if chosen == "word2vec-binary":
        words, vectors = _read_binary(path, limit)
    else:
        words, vectors = _read_text(path, has_header=chosen == "word2vec-text", limit=limit)
    return _keyed_vectors(words, vectors)


def load_model_vectors(model_dir: str | os.PathLike[str]) -> KeyedVectors:
    """Load the vectors a word2vec stage wrote into a run's model folder (gensim format).

    This unpickles, so it is meant only for folders produced by our pipeline; the folder must
    hold the stage's ``word2vec.json`` marker next to the vectors.
    """
    model_dir = Path(model_dir)
    gensim_file = model_dir / MODEL_GENSIM_FILE
    if not (model_dir / MODEL_INFO_FILE).is_file() or not gensim_file.is_file():
        raise InputError(
            f"not a word2vec model folder: expected {MODEL_GENSIM_FILE} and {MODEL_INFO_FILE} "
            "written by a word2vec pipeline stage",
            model_dir,
        )
    return KeyedVectors.load(str(gensim_file), mmap="r")


def load_any_vectors(
    location: str | os.PathLike[str], format: VectorFormat | Literal["auto"] = "auto"
) -> KeyedVectors:
    """A model folder of a word2vec run, or a vectors file: what ``vectors: PATH`` settings accept."""
    location = Path(location)
    if location.is_dir():
        return load_model_vectors(location)
    return load_vectors(location, format)


def lowercase_index(kv: KeyedVectors) -> dict[str, int]:
    """Lowercased key -> row of its first spelling (the most frequent one in a sorted file), for
    case-insensitive lookups in both directions (``Paris`` finds ``paris`` and vice versa)."""
    index: dict[str, int] = {}
    for row, key in enumerate(kv.index_to_key):
        index.setdefault(str(key).lower(), row)
    return index


def _keyed_vectors(words: list[str], vectors: np.ndarray) -> KeyedVectors:
    kv = KeyedVectors(vector_size=vectors.shape[1], count=0, dtype=np.float32)
    kv.add_vectors(words, vectors)
    return kv


def _read_text(path: Path, *, has_header: bool, limit: int | None) -> tuple[list[str], np.ndarray]:
    """Parse ``word v1 ... vD`` lines, after a ``COUNT DIM`` header when ``has_header``."""
    lines = _iter_utf8_lines(path)
    expected_count: int | None = None
    dim: int | None = None
    if has_header:
        expected_count, dim = _parse_header(next(lines, (1, ""))[1], path)
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: set[str] = set()
    duplicates = 0
    last_line = 1 if has_header else 0
    for number, line in lines:
        last_line = number
        if limit is not None and len(words) >= limit:
            break
        if expected_count is not None and len(words) + duplicates >= expected_count:
            raise InputError(
                f"the header promises {expected_count} vectors but the file has more lines", path, number
            )
        word, values = _split_record(line, dim, path, number)
        if dim is None:
            dim = len(values)  # GloVe: the first line fixes the dimension
        vector = _parse_values(values, path, number)
        if word in seen:
            duplicates += 1
            continue
        seen.add(word)
        words.append(word)
        rows.append(vector)
    found = len(words) + duplicates
    if expected_count is not None and limit is None and found != expected_count:
        raise InputError(
            f"the header promises {expected_count} vectors but the file has {found} (truncated file?)",
            path,
            1,
        )
    if not words:
        raise InputError("the vectors file has no vectors", path, last_line or None)
    if duplicates:
        log.warning("%s: %d duplicate words; kept the first vector of each", path, duplicates)
    return words, np.vstack(rows)


def _iter_utf8_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line_number, text)`` pairs, decoding each line on its own so that a bad byte is
    reported on its own line (a text wrapper decodes ahead in blocks and would report the
    block's first line)."""
    with _open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"not valid UTF-8 ({exc.reason} at byte {exc.start} of the line); vectors files must be "
                    "UTF-8 (re-encode it, e.g. with iconv)",
                    path,
                    number,
                ) from None
            yield number, text.rstrip("\r\n")


def _parse_header(line: str, path: Path) -> tuple[int, int]:
    tokens = line.split()
    if len(tokens) != 2 or not all(_is_int(token) for token in tokens):
        raise InputError(f"bad header: expected 'COUNT DIM' (two integers), found {line[:60]!r}", path, 1)
    count, dim = int(tokens[0]), int(tokens[1])
    if dim <= 0:
        raise InputError(f"bad header: the dimension must be positive, found {dim}", path, 1)
    return count, dim


def _split_record(line: str, dim: int | None, path: Path, number: int) -> tuple[str, list[str]]:
    """Split a text record into its word and value strings, checking the dimension."""
    parts = line.rstrip().split(" ")  # the C tool writes a trailing space; rstrip drops it
    if len(parts) < 2 or not parts[0]:
        raise InputError("expected 'WORD v1 v2 ...', found an empty or one-field line", path, number)
    if dim is None or len(parts) - 1 == dim:
        return parts[0], parts[1:]
    if len(parts) - 1 > dim and not _is_float(parts[1]):
        # Some published files (GloVe 840B) have words containing spaces.
        return " ".join(parts[: len(parts) - dim]), parts[len(parts) - dim :]
    raise InputError(
        f"inconsistent dimensions: expected {dim} values after the word, found {len(parts) - 1}", path, number
    )


def _parse_values(values: list[str], path: Path, number: int) -> np.ndarray:
    try:
        vector = np.array(values, dtype=np.float32)
    except ValueError:
        bad = next(value for value in values if not _is_float(value))
        raise InputError(f"expected a number, found {bad[:30]!r}", path, number) from None
    if not np.isfinite(vector).all():
        raise InputError("the vector contains NaN or infinity", path, number)
    return vector


def _read_binary(path: Path, limit: int | None) -> tuple[list[str], np.ndarray]:
    """Parse the C tool's binary format: a text header, then ``word<space><D float32>[\\n]``."""
    with _open_binary(path) as handle:
        header = handle.readline()
        try:
            header_text = header.decode("ascii")
        except UnicodeDecodeError:
            raise InputError("bad header: expected 'COUNT DIM' as ASCII text", path, 1) from None
        count, dim = _parse_header(header_text, path)
        wanted = count if limit is None else min(count, limit)
        vectors = np.empty((wanted, dim), dtype=np.float32)
        words: list[str] = []
        seen: set[str] = set()
        reader = _ByteReader(handle, offset=len(header))
        for record in range(1, wanted + 1):
            where = f"record {record} (byte {reader.offset})"
            word_bytes = reader.read_word()
            if word_bytes is None:
                raise InputError(
                    f"the header promises {count} vectors but the file ends after {record - 1}",
                    path,
                    record + 1,
                )
            try:
                word = word_bytes.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{where}: the word is not valid UTF-8 ({exc.reason})", path, record + 1
                ) from None
            raw = reader.read_exact(4 * dim)
            if raw is None:
                raise InputError(
                    f"{where}: expected {dim} float32 values, the file ends first", path, record + 1
                )
            vector = np.frombuffer(raw, dtype="<f4")
            if not np.isfinite(vector).all():
                raise InputError(f"{where}: the vector contains NaN or infinity", path, record + 1)
            if word in seen:
                continue
            seen.add(word)
            vectors[len(words)] = vector
            words.append(word)
    if not words:
        raise InputError("the vectors file has no vectors", path, 1)
    return words, vectors[: len(words)]


class _ByteReader:
    """Buffered reads of words and fixed-size blocks from a binary stream."""

    def __init__(self, handle: IO[bytes], offset: int) -> None:
        self.handle = handle
        self.buffer = b""
        self.position = 0
        self.offset = offset  # bytes consumed so far, for error messages

    def _fill(self, needed: int) -> bool:
        if len(self.buffer) - self.position >= needed:
            return True
        chunk = self.handle.read(max(needed, 1 << 20))
        self.buffer = self.buffer[self.position :] + chunk
        self.position = 0
        return len(self.buffer) >= needed

    def read_word(self) -> bytes | None:
        """The bytes up to the next space, skipping the newline that ends the previous record."""
        while True:
            self._fill(1)
            if self.position >= len(self.buffer):
                return None
            if self.buffer[self.position : self.position + 1] != b"\n":
                break
            self.position += 1
            self.offset += 1
        while True:
            end = self.buffer.find(b" ", self.position)
            if end >= 0:
                word = self.buffer[self.position : end]
                self.offset += end + 1 - self.position
                self.position = end + 1
                return word
            before = len(self.buffer) - self.position
            if not self._fill(before + 1):
                return None

    def read_exact(self, size: int) -> bytes | None:
        if not self._fill(size):
            return None
        block = self.buffer[self.position : self.position + size]
        self.position += size
        self.offset += size
        return block


def _open_binary(path: Path) -> IO[bytes]:
    if not path.exists():
        raise InputError("file not found", path)
    if path.is_dir():
        raise InputError("expected a file, found a directory", path)
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


# --------------------------------------------------------------------------- saving


def save_vectors(
    kv: KeyedVectors,
    path: str | os.PathLike[str],
    format: VectorFormat = "word2vec-text",
    *,
    precision: int = 9,
) -> Path:
    """Write vectors atomically in ``format``; a ``.gz`` suffix compresses text and binary files.

    ``precision`` is the number of significant digits in text formats; 9 (the default) is enough
    to read back every float32 exactly, 6 makes files about a third smaller.
    """
    path = Path(path)
    if format == "gensim":
        kv.save(str(path))  # gensim writes several files (path + path.vectors.npy); not atomic
        return path
    if format not in VECTOR_FORMATS:
        raise ValueError(f"unknown vectors format {format!r}")
    vectors = np.asarray(kv.vectors, dtype=np.float32)
    with atomic_file(path, "wb") as raw, _maybe_gzip(raw, path) as handle:
        if format == "word2vec-binary":
            _write_binary(handle, kv.index_to_key, vectors)
        else:
            header = format == "word2vec-text"
            _write_text(handle, kv.index_to_key, vectors, header=header, precision=precision)
    return path


def _write_text(
    handle: IO[bytes], words: list[str], vectors: np.ndarray, *, header: bool, precision: int
) -> None:
    dim = vectors.shape[1]
    if header:
        handle.write(f"{len(words)} {dim}\n".encode())
    row_format = " ".join([f"%.{precision}g"] * dim)
    for chunk in _chunks(len(words), 4096):
        lines = [
            f"{_check_word(words[i], inner_space=True)} {row_format % tuple(vectors[i].tolist())}\n"
            for i in chunk
        ]
        handle.write("".join(lines).encode("utf-8"))


def _write_binary(handle: IO[bytes], words: list[str], vectors: np.ndarray) -> None:
    handle.write(f"{len(words)} {vectors.shape[1]}\n".encode())
    little_endian = vectors.astype("<f4", copy=False)
    for index, word in enumerate(words):
        handle.write(
            _check_word(word, inner_space=False).encode("utf-8")
            + b" "
            + little_endian[index].tobytes()
            + b"\n"
        )


def _check_word(word: Any, *, inner_space: bool) -> str:
    """Refuse words our readers could not read back: records end at a newline, the binary reader
    ends a word at a space, and the text reader splits on spaces (inner spaces are tolerated, as
    in GloVe 840B, but not leading or trailing ones)."""
    word = str(word)
    forbidden = "\n\r" if inner_space else "\n\r "
    if not word or word.strip(" ") != word or any(char in word for char in forbidden):
        raise ValueError(
            f"cannot save word {word!r} in this format: empty, or containing {forbidden!r} or edge spaces"
        )
    return word


def _chunks(total: int, size: int) -> Iterator[range]:
    for start in range(0, total, size):
        yield range(start, min(start + size, total))


class _maybe_gzip:
    """Context manager wrapping ``raw`` in gzip when ``path`` ends in ``.gz``."""

    def __init__(self, raw: IO[bytes], path: Path) -> None:
        self.raw = raw
        self.gz = gzip.GzipFile(fileobj=raw, mode="wb", filename="") if path.suffix == ".gz" else None

    def __enter__(self) -> IO[bytes]:
        return self.gz if self.gz is not None else self.raw

    def __exit__(self, *exc: object) -> None:
        if self.gz is not None:
            self.gz.close()  # writes the gzip trailer; leaves ``raw`` open for atomic_file


def save_model_vectors(
    kv: KeyedVectors, model_dir: str | os.PathLike[str], info: dict[str, Any]
) -> list[Path]:
    """Write a run's vectors: word2vec text (portable), gensim's format (fast), and info JSON."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    written = [save_vectors(kv, model_dir / MODEL_TEXT_FILE, "word2vec-text", precision=9)]
    kv.save(str(model_dir / MODEL_GENSIM_FILE))
    written.append(model_dir / MODEL_GENSIM_FILE)
    info_path = model_dir / MODEL_INFO_FILE
    with atomic_file(info_path) as handle:
        json.dump(info, handle, indent=2, sort_keys=True)
    written.append(info_path)
    return written


def read_model_info(model_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings and metrics a word2vec stage stored next to its vectors."""
    path = Path(model_dir) / MODEL_INFO_FILE
    if not path.is_file():
        raise InputError(f"not a word2vec model folder: {MODEL_INFO_FILE} is missing", model_dir)
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
