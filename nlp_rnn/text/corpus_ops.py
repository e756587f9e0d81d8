"""Corpus-level text operations: tokenize a dataset, count tokens, write a line corpus.

Everything here streams: a corpus is read in batches of lines (or rows), so memory stays
bounded by the batch size and the size of the token counts, not by the corpus.

Counting in several processes uses a small fixed pool: the parent only reads (compressed)
bytes and hands out blocks of about ``block_size`` bytes through a bounded queue; each
worker decodes, filters, tokenizes and counts into its own ``Counter``, and sends it back
once at the end. Sending one Counter per worker instead of one per batch keeps the parent
nearly idle, which matters on a machine with as many cores as workers.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import queue
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import IO, TYPE_CHECKING, Any

from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.fileio import atomic_file, iter_lines, open_binary
from nlp_rnn.text.tokenizers import Tokenizer

if TYPE_CHECKING:
    import datasets

LineFilter = Callable[[str], bool]

# Parent-to-worker queue length per worker: enough to keep workers busy, small enough
# that a slow worker never lets the parent buffer the corpus.
_QUEUE_PER_WORKER = 4
_POLL_SECONDS = 0.2
# A worker hands its counts to the parent when it holds this many distinct tokens (~25 MB).
_FLUSH_TYPES = 200_000


def is_wiki_markup(line: str) -> bool:
    """True for the ``<doc ...>`` and ``</doc>`` lines that WikiExtractor wraps articles in.

    Pass it as ``skip_line`` to count or write Wikipedia text without the markup.
    """
    return line.startswith(("<doc ", "</doc>"))


def tokenize_dataset(
    ds: datasets.Dataset,
    tokenizer: Tokenizer,
    column: str = "text",
    output_column: str = "tokens",
    num_proc: int | None = None,
    batch_size: int = 1000,
) -> datasets.Dataset:
    """Add ``output_column`` (a list of token strings per row) by tokenizing ``column``.

    A batched ``Dataset.map``: ``num_proc`` processes, results cached by ``datasets`` (the
    tokenizer pickles by its options, so the cache key is stable across runs).
    """
    import datasets

    _check_column(ds, column)
    features = ds.features.copy()
    features[output_column] = datasets.List(datasets.Value("string"))
    return ds.map(
        _TokenizeColumn(tokenizer, column, output_column),
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        features=features,
        desc=f"tokenizing {column}",
    )


class _TokenizeColumn:
    """The map function of :func:`tokenize_dataset` (a class so that it pickles)."""

    def __init__(self, tokenizer: Tokenizer, column: str, output_column: str) -> None:
        self.tokenizer = tokenizer
        self.column = column
        self.output_column = output_column

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[list[str]]]:
        return {self.output_column: self.tokenizer.tokenize_batch(batch[self.column])}


def count_tokens(
    source: datasets.Dataset | Iterable[str],
    tokenizer: Tokenizer,
    column: str = "text",
    num_proc: int | None = None,
    batch_size: int = 1000,
    skip_line: LineFilter | None = None,
) -> Counter[str]:
    """Token counts of a dataset column or of an iterable of texts, streamed in batches.

    ``skip_line(text) -> bool`` drops texts before tokenizing (for example
    :func:`is_wiki_markup`). ``num_proc`` > 1 tokenizes in that many worker processes.
    """
    batches = ((_TEXTS, batch) for batch in iter_text_batches(source, column, batch_size))
    return _count(batches, tokenizer, skip_line, num_proc)


def count_file_tokens(
    paths: Sequence[str | os.PathLike[str]],
    tokenizer: Tokenizer,
    encoding: str = "utf-8",
    num_proc: int | None = None,
    skip_line: LineFilter | None = None,
    block_size: int = 1 << 20,
) -> Counter[str]:
    """Token counts of text files (one text per line, ``.gz`` read transparently).

    The files are read in blocks of about ``block_size`` bytes, never whole. An undecodable
    line raises :class:`InputError` naming the file and line.
    """
    if not _newline_is_one_byte(encoding):
        # Blocks are cut at b"\n", which is only a line end in ASCII-compatible encodings.
        texts = iter_file_texts(paths, encoding)
        return count_tokens(texts, tokenizer, num_proc=num_proc, skip_line=skip_line)
    return _count(_file_blocks(paths, encoding, block_size), tokenizer, skip_line, num_proc)


def iter_file_texts(
    paths: Iterable[str | os.PathLike[str]],
    encoding: str = "utf-8",
    skip_line: LineFilter | None = None,
) -> Iterator[str]:
    """The lines of several text files in order, without line ends, minus skipped lines."""
    for path in paths:
        if _newline_is_one_byte(encoding):
            texts: Iterable[str] = (text for _, text in iter_lines(path, encoding))
            yield from texts if skip_line is None else (t for t in texts if not skip_line(t))
        else:
            with open_binary(path) as handle:
                texts = iter_stream_texts(handle, encoding, str(path))
                yield from texts if skip_line is None else (t for t in texts if not skip_line(t))


def iter_stream_texts(stream: IO[bytes], encoding: str = "utf-8", name: str = "<stream>") -> Iterator[str]:
    r"""Decode a binary stream (stdin, say) line by line, without line ends.

    An undecodable byte raises :class:`InputError` naming ``name``, the line and the column,
    as :func:`nlp_rnn.fileio.iter_lines` does for files. Encodings in which ``\n`` is not the
    byte 0x0A (UTF-16, UTF-32) are decoded by a text wrapper, which cannot tell the line.
    """
    if not _newline_is_one_byte(encoding):
        wrapper = io.TextIOWrapper(stream, encoding=encoding, newline="")
        try:
            yield from (line.rstrip("\r\n") for line in wrapper)
        except UnicodeDecodeError as exc:
            raise InputError(f"cannot decode the text as {encoding} ({exc.reason})", name) from None
        finally:
            wrapper.detach()  # the caller owns the stream
        return
    for number, raw in enumerate(stream, start=1):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise _decode_error(raw, exc.start, encoding, name, number) from None
        yield text.rstrip("\r\n")


def _decode_error(data: bytes, position: int, encoding: str, name: str, first_line: int) -> InputError:
    """The error for the undecodable byte at ``position`` of ``data``, which starts at line
    ``first_line``; worded like :func:`nlp_rnn.fileio.iter_lines`."""
    line_start = data.rfind(b"\n", 0, position) + 1
    column = len(data[line_start:position].decode(encoding, errors="replace")) + 1
    return InputError(
        f"cannot decode byte 0x{data[position]:02x} as {encoding}; "
        "pass --encoding (for example latin-1) if the file uses another encoding",
        name,
        first_line + data.count(b"\n", 0, position),
        column,
    )


def iter_text_batches(
    source: datasets.Dataset | datasets.IterableDataset | Iterable[Any],
    column: str = "text",
    batch_size: int = 1000,
) -> Iterator[list[Any]]:
    """Lists of up to ``batch_size`` items: rows of ``column`` of a dataset (streamed
    ``IterableDataset`` included), or the items of any other iterable."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if _is_dataset(source):
        _check_column(source, column)
        for batch in source.select_columns([column]).iter(batch_size=batch_size):
            yield batch[column]
        return
    if isinstance(source, (str, bytes)):
        raise TypeError("expected an iterable of texts, got a single string")
    iterator = iter(source)
    while batch := list(islice(iterator, batch_size)):
        yield batch


def iter_tokenized_lines(
    texts: Iterable[str],
    tokenizer: Tokenizer | None,
    batch_size: int = 1000,
    skip_line: LineFilter | None = None,
) -> Iterator[str]:
    """One space-joined line of tokens per text, in order (``tokenizer=None``: the items
    are token lists already). Tokens that contain spaces cannot be told apart afterwards."""
    for batch in iter_text_batches(texts, batch_size=batch_size):
        if skip_line is not None:
            batch = [text for text in batch if not skip_line(text)]
        token_lists = batch if tokenizer is None else tokenizer.tokenize_batch(batch)
        yield from (" ".join(tokens) for tokens in token_lists)


def write_line_corpus(
    source: datasets.Dataset | Iterable[str],
    tokenizer: Tokenizer | None,
    path: str | os.PathLike[str],
    column: str = "text",
    batch_size: int = 1000,
    skip_line: LineFilter | None = None,
) -> int:
    """Write one line of space-joined tokens per row or text; return the number of lines.

    The format of gensim's ``corpus_file`` mode. Streams, and writes atomically: on any
    error the previous file (if any) stays and no partial file is left. With
    ``tokenizer=None`` the rows are already token lists (say, a ``tokens`` column).
    """
    if _is_dataset(source):
        _check_column(source, column)
        texts: Iterable[Any] = (
            text for batch in iter_text_batches(source, column, batch_size) for text in batch
        )
    else:
        texts = source
    written = 0
    with atomic_file(path, "w", encoding="utf-8", newline="\n") as handle:
        lines = iter_tokenized_lines(texts, tokenizer, batch_size, skip_line)
        while chunk := list(islice(lines, batch_size)):
            handle.write("\n".join(chunk))
            handle.write("\n")
            written += len(chunk)
    return written


# --- counting engine ---------------------------------------------------------------------

# A task is (_TEXTS, list_of_texts) or (_BLOCK, path, first_line_number, bytes, encoding).
_TEXTS, _BLOCK = "texts", "block"
# What workers send back: (_COUNTS, Counter), (_DONE, None) or (_ERROR, exception).
_COUNTS, _DONE, _ERROR = "counts", "done", "error"


def _count(
    tasks: Iterable[tuple],
    tokenizer: Tokenizer,
    skip_line: LineFilter | None,
    num_proc: int | None,
) -> Counter[str]:
    if num_proc is not None and num_proc < 1:
        raise ValueError(f"num_proc must be positive, got {num_proc}")
    if not num_proc or num_proc == 1:
        counter: Counter[str] = Counter()
        for task in tasks:
            tokenizer.count_into(counter, _task_texts(task, skip_line))
        return counter
    pool = _CountingPool(tokenizer, skip_line, num_proc)
    try:
        for task in tasks:
            pool.put(task)
        return pool.finish()
    finally:
        pool.close()


def _task_texts(task: tuple, skip_line: LineFilter | None) -> list[str]:
    if task[0] == _TEXTS:
        texts = task[1]
    else:
        _, path, first_line, data, encoding = task
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise _decode_error(data, exc.start, encoding, path, first_line) from None
        texts = text.split("\n")
        if texts and texts[-1] == "":  # the block ended with a newline
            texts.pop()
        if "\r" in text:
            texts = [line.rstrip("\r") for line in texts]
    if skip_line is not None:
        texts = [text for text in texts if not skip_line(text)]
    return texts


def _count_worker(
    tokenizer: Tokenizer,
    skip_line: LineFilter | None,
    tasks: multiprocessing.Queue,
    results: multiprocessing.Queue,
) -> None:
    counter: Counter[str] = Counter()
    try:
        while (task := tasks.get()) is not None:
            tokenizer.count_into(counter, _task_texts(task, skip_line))
            if len(counter) >= _FLUSH_TYPES:
                results.put((_COUNTS, counter))
                counter = Counter()
        results.put((_COUNTS, counter))
        results.put((_DONE, None))
    except BaseException as exc:  # report it to the parent, which raises it
        results.put((_ERROR, _picklable(exc)))


class _CountingPool:
    """``num_proc`` worker processes that count the tokens of the tasks put to them.

    Workers send their counts back whenever they hold ``_FLUSH_TYPES`` distinct tokens (and
    at the end), and the parent merges them as they come while it hands out tasks: so no
    worker's memory grows with the vocabulary beyond that, and only the parent holds the
    whole vocabulary, once.
    """

    def __init__(self, tokenizer: Tokenizer, skip_line: LineFilter | None, num_proc: int) -> None:
        context = multiprocessing.get_context()
        self.tasks = context.Queue(maxsize=_QUEUE_PER_WORKER * num_proc)
        self.results = context.Queue()
        self.total: Counter[str] = Counter()
        self.finished = 0
        self.workers = [
            context.Process(
                target=_count_worker,
                args=(tokenizer, skip_line, self.tasks, self.results),
                daemon=True,
                name=f"nlp-rnn-count-{index}",
            )
            for index in range(num_proc)
        ]
        for worker in self.workers:
            worker.start()

    def put(self, task: tuple | None) -> None:
        """Queue a task (``None`` tells a worker to finish), merging results while waiting."""
        while True:
            self._merge_ready(timeout=None)
            try:
                self.tasks.put(task, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                self._check_alive()

    def finish(self) -> Counter[str]:
        """Tell the workers to stop, and return the merged counts once all have reported."""
        for _ in self.workers:
            self.put(None)
        while self.finished < len(self.workers):
            if not self._merge_ready(timeout=_POLL_SECONDS):
                self._check_alive()
        for worker in self.workers:
            worker.join()
        return self.total

    def close(self) -> None:
        """Stop any worker still running (after an error) and release the queues."""
        for worker in self.workers:
            if worker.is_alive():
                worker.terminate()
                worker.join()
        self.tasks.close()
        self.results.close()

    def _merge_ready(self, timeout: float | None) -> bool:
        """Merge every result already sent (waiting up to ``timeout`` for a first one)."""
        merged = False
        while True:
            try:
                if timeout is not None and not merged:
                    kind, payload = self.results.get(timeout=timeout)
                else:
                    kind, payload = self.results.get_nowait()
            except queue.Empty:
                return merged
            merged = True
            if kind == _ERROR:
                raise payload
            if kind == _DONE:
                self.finished += 1
            else:
                self.total.update(payload)

    def _check_alive(self) -> None:
        dead = [worker for worker in self.workers if worker.exitcode not in (None, 0)]
        if dead:
            self._merge_ready(timeout=_POLL_SECONDS)  # raises the worker's own error, if sent
            raise NlpRnnError(f"a counting worker died (exit code {dead[0].exitcode}); out of memory?")


def _picklable(exc: BaseException) -> BaseException:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return NlpRnnError(f"{type(exc).__name__}: {exc}")


def _file_blocks(paths: Iterable[str | os.PathLike[str]], encoding: str, block_size: int) -> Iterator[tuple]:
    """Blocks of whole lines as undecoded bytes, so that workers do the decoding."""
    for path in paths:
        with open_binary(path) as raw:
            line_number = 1
            rest = b""
            while True:
                data = raw.read(block_size)
                if not data:
                    if rest:
                        yield (_BLOCK, str(path), line_number, rest, encoding)
                    break
                data = rest + data
                cut = data.rfind(b"\n") + 1
                if cut == 0:  # no line end yet: a very long line
                    rest = data
                    continue
                block, rest = data[:cut], data[cut:]
                yield (_BLOCK, str(path), line_number, block, encoding)
                line_number += block.count(b"\n")


def _newline_is_one_byte(encoding: str) -> bool:
    import codecs

    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise NlpRnnError(f"unknown text encoding {encoding!r}") from None
    # True for UTF-8, Latin-1 and the other ASCII-compatible encodings (no multibyte
    # character of theirs contains the byte 0x0A); false for UTF-16/32 and EBCDIC.
    return codec.encode("\n")[0] == b"\n"


def _is_dataset(source: object) -> bool:
    # Only check when `datasets` is already imported: otherwise source cannot be a Dataset,
    # and importing it would cost a second for every plain-text caller.
    module = sys.modules.get("datasets")
    return module is not None and isinstance(source, (module.Dataset, module.IterableDataset))


def _check_column(ds: datasets.Dataset | datasets.IterableDataset, column: str) -> None:
    # A streamed dataset may not know its columns before reading; it fails later, then.
    if ds.column_names is not None and column not in ds.column_names:
        raise NlpRnnError(f"the dataset has no column {column!r}; its columns: {', '.join(ds.column_names)}")


__all__ = [
    "count_file_tokens",
    "count_tokens",
    "is_wiki_markup",
    "iter_file_texts",
    "iter_stream_texts",
    "iter_text_batches",
    "iter_tokenized_lines",
    "tokenize_dataset",
    "write_line_corpus",
]
