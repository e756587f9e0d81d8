"""Small file helpers shared by readers and writers: transparent gzip, atomic outputs."""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from nlp_rnn.errors import InputError

T = TypeVar("T")


def open_text(path: str | os.PathLike[str], encoding: str = "utf-8") -> IO[str]:
    """Open a text file for reading, decompressing ``.gz`` files on the fly.

    Decoding errors are left strict so that callers can report the offending line.
    """
    return io.TextIOWrapper(open_binary(path), encoding=encoding, newline="")


def open_binary(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a file for reading bytes, decompressing ``.gz`` files on the fly."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    if path.is_dir():
        raise InputError("expected a file, found a directory", path)
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def iter_lines(path: str | os.PathLike[str], encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line_without_newline)`` pairs, numbering from 1.

    Lines are split on bytes and decoded one by one, so an undecodable byte is reported on the
    line that holds it (with its column), with a hint to pass another encoding. This assumes
    an ASCII-compatible encoding (UTF-8, Latin-1, cp1252...), where ``\n`` is one byte.
    """
    with open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"cannot decode byte 0x{raw[exc.start]:02x} as {encoding}; "
                    "pass --encoding (for example latin-1) if the file uses another encoding",
                    path,
                    number,
                    len(raw[: exc.start].decode(encoding, errors="replace")) + 1,
                ) from None
            yield number, line.rstrip("\r\n")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter): a stream read a block at a
    time, so that memory does not grow with it."""
    iterator = iter(items)
    while block := list(itertools.islice(iterator, size)):
        yield block


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a UTF-8 JSON file; bad JSON or bytes raise :class:`InputError` with the file (and line)."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path, exc.lineno, exc.colno) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path) from None


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "w", **kwargs) -> Iterator[IO]:
    """Write a file under a temporary name and move it into place only on success.

    A crash or exception leaves the previous file (if any) untouched and no partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with open(tmp_name, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a directory under a temporary name; on success replace ``path`` with it.

    On failure the temporary directory is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
